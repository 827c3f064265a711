"""Similarity-distribution (relational) distillation, after CompRess (Abbasi Koohpayegani et
al., NeurIPS 2020), with two banks: for each window, its cosine similarities to a set of anchor
windows become a temperature softmax, once in the teacher's space and once in the student's;
the student's distribution is pulled to the teacher's with a KL divergence.

Anchors are the current batch (with gradients) plus a FIFO queue of earlier batches (teacher
targets and detached student embeddings of the same windows). Only similarities within each
space enter, so the loss is unchanged by any rotation or rescaling of the targets: no PCA
alignment of coordinates is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.kd.batch_share import BatchShare


class SimilarityDistillation(nn.Module):
    """Per-window KL(teacher similarity distribution || student's) against a queue of anchors."""

    def __init__(self, student_dim: int, target_dim: int, bank_size: int = 4096,
                 temperature: float = 0.1) -> None:
        super().__init__()
        if bank_size < 0 or not temperature > 0:
            raise ValueError("relational bank size must be >= 0 and temperature > 0")
        self.temperature = temperature
        self.register_buffer("bank_teacher", torch.zeros(bank_size, target_dim))
        self.register_buffer("bank_student", torch.zeros(bank_size, student_dim))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("head", torch.zeros((), dtype=torch.long))

    def forward(self, student: torch.Tensor, target: torch.Tensor,
                share: BatchShare | None = None) -> torch.Tensor:
        """(B,) per-window KL; also pushes the whole batch into the queue when training.

        The anchors are every window of the global batch (`share`; default: these windows are
        all of it) and the queue, so DDP ranks see what one process sees."""
        share = share or BatchShare.whole(len(student))
        s = F.normalize(student.float(), dim=1)
        t = F.normalize(target.float(), dim=1)
        batch_s, batch_t = share.gather(s), share.gather(t)
        n = int(self.filled)
        anchors_s = torch.cat([batch_s, self.bank_student[:n]])
        anchors_t = torch.cat([batch_t, self.bank_teacher[:n]])
        self_mask = torch.zeros(len(s), len(anchors_s), dtype=torch.bool, device=s.device)
        self_mask[torch.arange(len(s)), share.local] = True
        logits_s = (s @ anchors_s.T / self.temperature).masked_fill(self_mask, -torch.inf)
        logits_t = (t @ anchors_t.T / self.temperature).masked_fill(self_mask, -torch.inf)
        p_t = logits_t.softmax(dim=1)
        log_p_s = logits_s.log_softmax(dim=1)
        log_p_t = logits_t.log_softmax(dim=1)
        terms = torch.where(self_mask, 0.0, p_t * (log_p_t - log_p_s))
        if self.training:
            self._push(batch_s.detach(), batch_t.detach())
        return terms.sum(dim=1)

    @torch.no_grad()
    def _push(self, s: torch.Tensor, t: torch.Tensor) -> None:
        size = len(self.bank_teacher)
        if size == 0:
            return
        s, t = s[-size:], t[-size:]
        slots = (int(self.head) + torch.arange(len(s), device=s.device)) % size
        self.bank_student[slots] = s
        self.bank_teacher[slots] = t
        self.head.fill_((int(self.head) + len(s)) % size)
        self.filled.fill_(min(size, int(self.filled) + len(s)))
