"""Turn audio into embeddings with any L3-family torch model (batched, resampled, framed)."""

from __future__ import annotations

import numpy as np
import torch

from sea.configs import count_parameters
from sea.errors import batch_allocation
from sea.framing import frame_resampled
from sea.models import RANDOM_INIT_SEED, LoadOptions, ModelSpec
from sea.models import Embedder as EmbedderProtocol
from training.inference import fast_model
from training.model import L3Net


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Embedder(EmbedderProtocol):
    """Wraps a model with openl3-style framing: `embed(audio, sr)` -> (T x D, timestamps); the
    torch backend of sea.models.Embedder (config names, Keras files, student checkpoints).

    Windows run through `training.inference.FastL3` (folded BN, channels-last, ...): the same
    embeddings to float32 round-off, faster; `precision="bf16"` only where the hardware has it.
    """

    device: torch.device

    def __init__(self, model: L3Net, batch_size: int = 32, device: str | torch.device | None = None,
                 resampler: str = "soxr", name: str | None = None, precision: str = "float32"):
        self.device = torch.device(device) if device else default_device()
        self.model = model.eval().to(self.device)
        self.runner = fast_model(self.model, precision, device=self.device)
        self.precision = precision
        self.cfg = model.cfg
        self.batch_size = batch_size
        self.resampler = resampler
        self.name = name or model.cfg.name
        self.dim = model.cfg.embedding_dim
        self.sample_rate = model.cfg.frontend.sample_rate
        self.num_params = count_parameters(model.cfg)
        self.size_bytes = 4 * self.num_params

    @classmethod
    def load(cls, spec: ModelSpec, options: LoadOptions) -> Embedder:
        """The torch model of a config name, Keras file or checkpoint directory."""
        from training.checkpoint import build_model

        if options.threads:
            torch.set_num_threads(options.threads)
        torch.manual_seed(RANDOM_INIT_SEED)  # deterministic random init for weightless configs
        # build_model reads a checkpoint directory, or the weights of the architecture `config`
        # names (a Keras file's, `weights` or the published ones of a config name)
        model = build_model(str(spec.path or spec.name), weights=spec.weights, config=spec.name)
        return cls(model, batch_size=options.batch_size, device=options.device,
                   resampler=options.resampler, name=spec.name, precision=options.precision)

    @torch.inference_mode()
    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """(B, window_samples) at the model's rate -> (B, D) float32."""
        out = []
        for i in range(0, len(windows), self.batch_size):
            with batch_allocation(self.batch_size):
                # np.array copies: framed windows are read-only strided views
                batch = torch.from_numpy(np.array(windows[i:i + self.batch_size],
                                                  dtype=np.float32))
                batch = batch.to(self.device)
                out.append(self.runner(batch).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(out)

    def embed(self, audio: np.ndarray, sr: int, hop_seconds: float = 0.1,
              center: bool = True) -> tuple[np.ndarray, np.ndarray]:
        windows, timestamps = frame_resampled(audio, sr, self.sample_rate, hop_seconds, center,
                                              self.cfg.frontend.window_seconds, self.resampler)
        return self.embed_windows(windows), timestamps
