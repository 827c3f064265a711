"""The distillation objective of `sea distill`: an output loss (mse, cosine, relational or
mse+relational), optionally an intermediate-layer term (alp), optionally censoring (scaffold).

Every term is computed per window; the total is their weighted sum, averaged over the batch
with the censor's per-window weights (under DDP over the global batch, see
training.kd.batch_share). `terms` reports each term's batch mean (uncensored) so
history.csv can show one column per term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sea.settings import SettingError
from training.kd.alp import LayerProjection
from training.kd.batch_share import BatchShare
from training.kd.censor import ScaffoldCensor
from training.kd.relational import SimilarityDistillation
from training.settings.objective import ObjectiveOptions


class KDObjective(nn.Module):
    def __init__(self, options: ObjectiveOptions, student_dim: int, target_dim: int,
                 num_rows: int, layers: LayerProjection | None = None) -> None:
        super().__init__()
        if (options.intermediate == "alp") != (layers is not None):
            raise SettingError("intermediate", "{intermediate} alp needs a layer projection "
                               "(and only it)")
        self.options = options
        self.term_names = options.term_names
        self.weights = {"mse": 1.0, "cosine": 1.0, "alp": options.alp_weight,
                        "relational": options.relational_weight if options.loss != "relational"
                        else 1.0}
        self.relational = (SimilarityDistillation(student_dim, target_dim, options.relational_bank,
                                                  options.relational_temperature)
                           if "relational" in self.term_names else None)
        self.layers = layers
        self.censor = (ScaffoldCensor(num_rows, options.censor_factor, options.censor_weight)
                       if options.censor == "scaffold" else None)

    def forward(self, student: torch.Tensor, target: torch.Tensor, keys: torch.Tensor | None = None,
                student_blocks: list[torch.Tensor] | None = None,
                teacher_blocks: torch.Tensor | None = None, share: BatchShare | None = None
                ) -> tuple[torch.Tensor, float, dict[str, float], float]:
        """(loss to backpropagate, the global batch's loss, {term: this share's mean}, share of
        this share's weight censored away).

        `share` places these windows in the global batch (default: they are all of it); the
        loss to backpropagate is this rank's part of the global batch's loss, scaled so that
        DDP's average of the ranks' gradients is the gradient of the global batch's loss.
        Censoring applies in training mode with `keys` (one per window: what the censor keeps
        its estimates by)."""
        share = share or BatchShare.whole(len(student))
        s, t = student.float(), target.float()
        per_window: dict[str, torch.Tensor] = {}
        for name in self.term_names:
            if name == "mse":
                per_window[name] = ((s - t) ** 2).mean(dim=1)
            elif name == "cosine":
                per_window[name] = 1.0 - F.cosine_similarity(s, t, dim=1)
            elif name == "relational":
                per_window[name] = self.relational(s, t, share)
            else:
                per_window[name] = self.layers(student_blocks, teacher_blocks)[0]
        combined = sum(self.weights[n] * v for n, v in per_window.items())
        every = share.gather(combined.detach())  # the global batch's per-window losses
        weights = torch.ones_like(every)
        if self.censor is not None and self.training and keys is not None:
            weights = self.censor(share.gather(keys.to(every.device)), every).to(every.device)
        total = weights.sum().clamp_min(1.0)
        mine = weights[share.local.to(every.device)]
        loss = (mine * combined).sum() / total * share.world
        terms = {n: float(v.detach().mean()) for n, v in per_window.items()}
        return loss, float((weights * every).sum() / total), terms, float(1.0 - mine.mean())
