"""Knowledge distillation: train a student to reproduce the reduced teacher embeddings.

Checkpoint directory `out/`:
- `epochs/NNNN/`: one complete checkpoint per committed epoch (`model.pt`, `config.json`,
  `manifest.json`, `trainer.pt` with the optimizer and early-stopping state as tensors and plain
  values, in the QAT phase (`--qat`, training/qat.py) also every tensor of the fake-quantized
  graph, `history.csv` up to that epoch). An epoch is written into `epochs/.NNNN.*.tmp` and
  renamed into place: that rename commits model, trainer state and history row together, so a
  run killed anywhere resumes (`--resume`) from the last committed epoch exactly as if it had
  never stopped. Only the best and the latest epoch are kept;
- `manifest.json`, `config.json`: the best epoch so far (lowest validation loss), its manifest
  pointing at `epochs/NNNN/model.pt` and recording the reducer id, the teacher, the clip store,
  the split, the training settings and the objective's loss terms; `history.csv`:
  `epoch,train_loss,val_loss,val_r2` (+ seconds, windows/s, data wait share, then one
  `train_<term>` column per loss term and `censored_share`); `last` -> the latest epoch. All
  three are derived from the committed epochs and repaired on resume;
- `cache/` (or --cache-dir): the store's audio resampled to the student's rate, 4 bytes per
  sample (about 115 MB per hour of audio at 8 kHz); safe to delete after training.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sea.configs import ModelConfig
from sea.errors import batch_allocation
from sea.settings import SettingError
from sea.manifest import atomic_write_bytes, atomic_write_json, read_manifest
from sea.output import claim_output
from sea.safe_write import TEMPORARY_SUFFIX, atomic_directory
from sea.reducer import KIND as REDUCER_KIND, load_targets
from sea.store import ClipStore
from training import ddp
from training.checkpoint import CHECKPOINT_KIND, load_checkpoint, load_tensors, save_checkpoint
from training.distill_data import WindowCache, iter_batches, split_clips
from training.embedder import default_device
from training.kd.alp import LayerProjection
from training.kd.augment import (base_rows, exact_gains, gain_exponents, gain_is_exact,
                                 shifted_rows, windows_left_in_clip)
from training.kd.batch_share import BatchShare
from training.kd.blocks import pooled_blocks
from training.kd.objective import KDObjective
from training.kd.teacher_blocks import BLOCKS_DIR, load_block_features
from training.model import L3Net
from training.settings.distill import DistillSettings
from training.prefetch import Prefetcher
from training.qat import SCHEME as QAT_SCHEME, QATBody, training_output_range
from training.sync_batchnorm import synchronize_batchnorm
from training.teacher_embed import set_cpu_threads

log = logging.getLogger(__name__)
EPOCHS_DIR = "epochs"
# What a distillation writes in its --out besides the manifest (module docstring).
CHECKPOINT_LAYOUT = (EPOCHS_DIR, "last", "config.json", "history.csv", "cache", "tensorboard")
HISTORY_FIELDS = ("epoch", "train_loss", "val_loss", "val_r2", "seconds", "windows_per_second",
                  "data_wait_share")


class MixedPrecisionStudent(torch.nn.Module):
    """The student as trained: the log-mel frontend in float32 (float16 cannot hold its dB
    range), the conv body under autocast in `dtype` when given. One module, so that DDP sees
    one forward per step. With `blocks`, also each block's globally mean-pooled activations
    (for intermediate-layer distillation), read by forward hooks. `body`: what runs after the
    frontend instead of the model's body (the fake-quantized one during QAT)."""

    def __init__(self, model: L3Net, dtype: torch.dtype | None, blocks: bool = False,
                 body: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.model, self.dtype, self.blocks = model, dtype, blocks
        self.qat_body = body

    def forward(self, windows: torch.Tensor
                ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        with pooled_blocks(self.model.body, self.blocks) as pooled:
            logmel = self.model.frontend(windows)
            with torch.autocast(windows.device.type, dtype=self.dtype or torch.float32,
                                enabled=self.dtype is not None):
                body = self.model.body if self.qat_body is None else self.qat_body
                return body(logmel), (pooled if self.blocks else None)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of an amp mode on `device` (None: full float32)."""
    if mode == "auto":
        mode = "fp16" if device.type == "cuda" else "off"
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "off": None}[mode]


def student_for_targets(cfg: ModelConfig, target_dim: int, target_min: float,
                        final_activation: str = "auto",
                        hidden_activation: str = "auto") -> ModelConfig:
    """Check the student's width against the targets and pick its activations (`auto`
    keeps the config's hidden one).

    A final BN+ReLU (the SEA/EdgeL3 layout) can only output values >= 0; reduced targets
    (PCA, random projection) are centred, so `auto` drops it when any target is negative.
    """
    if cfg.embedding_dim != target_dim:
        raise SettingError("student", f"student {cfg.name} outputs {cfg.embedding_dim} dims, "
                           f"the targets have {target_dim}: pick a {{student}} (or {{filters}}) "
                           f"whose last block is {target_dim} wide, or reduce to "
                           f"{cfg.embedding_dim} dims")
    relu = target_min >= 0 if final_activation == "auto" else final_activation == "relu"
    if relu and target_min < 0:
        log.warning("targets go down to %.3g but the student ends in ReLU: it cannot fit them",
                    target_min)
    activation = cfg.activation if hidden_activation == "auto" else hidden_activation
    return dataclasses.replace(cfg, final_bn_relu=relu, activation=activation)


@torch.no_grad()
def match_output_scale(model: L3Net, windows: torch.Tensor, targets: torch.Tensor) -> None:
    """Data-dependent init of the last layer so the student starts at the targets' scale.

    Teacher embeddings can be 10x larger than a fresh network's outputs, and Adam grows the
    last layer's scale by only about lr per step. Scaling the last layer by r > 0 scales the
    embedding exactly by r (ReLU and max-pool commute with it); a linear last conv can also
    take a shift. The loss being optimised is unchanged; only the starting point moves.
    """
    out = model(windows).float()
    last = [m for m in model.body.modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))][-1]
    eps = 1e-6
    if isinstance(last, torch.nn.BatchNorm2d):  # BN + ReLU: match the mean (outputs >= 0)
        ratio = (targets.mean(0).clamp_min(eps) / out.mean(0).clamp_min(eps)).clamp(1e-3, 1e3)
        last.weight.mul_(ratio)
        last.bias.mul_(ratio)
    else:  # linear last conv: match mean and spread
        ratio = (targets.std(0).clamp_min(eps) / out.std(0).clamp_min(eps)).clamp(1e-3, 1e3)
        last.weight.mul_(ratio[:, None, None, None])
        last.bias.mul_(ratio).add_(targets.mean(0) - ratio * out.mean(0))


def r2_score(sse: float, sst: float) -> float:
    """1 - SSE/SST pooled over all target dims (variance-weighted R^2)."""
    return 1.0 - sse / sst if sst > 0 else float("nan")


class Distiller:
    """Sets up data, model and optimizer for `out`, then `fit()` runs or resumes training."""

    def __init__(self, settings: DistillSettings) -> None:
        self.settings, self.out = settings, settings.out
        store_path, reducer_dir, resume = settings.store, settings.targets, settings.resume
        overwrite = settings.overwrite
        if not overwrite:
            self._check_out(resume)
        # Without --resume a finished checkpoint in `out` is replaced only with --overwrite.
        # Under DDP rank 0 alone writes, so it alone claims the output.
        self._lock = (claim_output(self.out, CHECKPOINT_KIND, inputs=(store_path, reducer_dir),
                                   overwrite=overwrite, resume=resume, layout=CHECKPOINT_LAYOUT)
                      if ddp.current().main else None)
        try:
            self._setup(store_path, reducer_dir, settings.student_config(), resume)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _setup(self, store_path: str | Path, reducer_dir: str | Path, cfg: ModelConfig,
               resume: bool) -> None:
        settings = self.settings
        self.reducer = read_manifest(reducer_dir, kind=REDUCER_KIND)
        self.reducer_dir = Path(reducer_dir)
        self.targets = load_targets(self.reducer_dir, self.reducer)
        emb = self.reducer["embeddings"]
        self.store = ClipStore(store_path)
        found = (len(self.store), self.store.manifest.get("content_sha256"))
        expected = (emb["clip_store"]["clips"], emb["clip_store"]["content_sha256"])
        if found != expected:
            raise ValueError(f"{store_path} is not the clip store the targets in {reducer_dir} "
                             f"were computed from (clips, content sha256 {found} != {expected})")
        self.index = self.store.window_index(emb["window_seconds"], emb["hop_seconds"],
                                             emb["center"])
        if len(self.index) != len(self.targets):
            raise ValueError(f"{len(self.targets)} targets for {len(self.index)} windows")
        self.cfg = student_for_targets(cfg, self.targets.shape[1],
                                       float(self.reducer["targets"]["min"]),
                                       settings.final_activation,
                                       settings.hidden_activation)
        val_clips, self.split = split_clips(self.store, settings.val_fraction,
                                            list(settings.val_folds), settings.seed)
        is_val = val_clips[self.index.clip_pos]
        self.stride = self._base_stride()
        self.train_rows = base_rows(self.index, np.flatnonzero(~is_val), self.stride)
        self.val_rows = base_rows(self.index, np.flatnonzero(is_val), self.stride)
        self.left_in_clip = windows_left_in_clip(self.index, len(self.store))
        self.split.update(train_windows=len(self.train_rows), val_windows=len(self.val_rows))
        self.ranks = ddp.current()
        if settings.qat and self.ranks.world > 1:
            raise SettingError("qat", "{qat} runs in one process only (its fake-quantized "
                               "graph has no rank-synchronised BatchNorm): use {nproc} 1")
        with ddp.main_first():  # rank 0 builds the audio cache, the others then read it
            self.cache = WindowCache(self.store, self.index, self.cfg.frontend.sample_rate,
                                     settings.cache_dir or self.out / "cache", settings.resampler)
        self.device = torch.device(settings.device) if settings.device else default_device()
        set_cpu_threads(self.device, settings.threads)
        torch.manual_seed(settings.seed)
        # bit-reproducible for a given machine kind and thread count: deterministic kernels
        # where torch has them (seeded data order above and in the epoch loop)
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.model = L3Net(self.cfg).to(self.device)
        self.teacher_blocks = self._load_teacher_blocks()
        self.objective = self._build_objective().to(self.device)
        self._check_gain()
        self.optimizer = torch.optim.Adam([*self.model.parameters(),
                                           *self.objective.parameters()], lr=settings.lr)
        self.amp = amp_dtype(settings.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.history_fields = HISTORY_FIELDS + tuple(
            f"train_{name}" for name in self.objective.term_names) + ("censored_share",)
        self.history: list[dict[str, Any]] = []
        self.state = {"epoch": 0, "best_val": math.inf, "best_epoch": 0, "bad_epochs": 0,
                      "qat_start": 0}
        self.qat: QATBody | None = None
        if resume and committed_epochs(self.out):
            self._load_last()
        else:
            self._init_output_scale()
        if self.ranks.world > 1:
            synchronize_batchnorm(self.model)  # global-batch statistics, as in one process
        self._build_student()

    def _build_student(self) -> None:
        if self.qat is not None:  # float32 through the fake-quantized body, one process
            self.student = self.trainer = MixedPrecisionStudent(self.model, None, body=self.qat)
            return
        self.student = MixedPrecisionStudent(self.model, self.amp, self.teacher_blocks is not None)
        self.trainer = self.student  # what a training step runs: DDP-wrapped under torchrun
        if self.ranks.world > 1:
            self.trainer = torch.nn.parallel.DistributedDataParallel(
                self.student, device_ids=[self.device] if self.device.type == "cuda" else None)

    def _sample_rows(self, count: int = 256) -> np.ndarray:
        """Up to `count` training rows drawn by the seed (for data-dependent initialisation)."""
        return np.sort(np.random.default_rng(self.settings.seed).permutation(
            self.train_rows)[:count])

    def _init_output_scale(self) -> None:
        rows = self._sample_rows()
        windows = torch.from_numpy(self.cache.windows(rows)).to(self.device)
        targets = torch.from_numpy(np.asarray(self.targets[rows], np.float32)).to(self.device)
        match_output_scale(self.model.train(), windows, targets)

    def _start_qat(self, epoch: int) -> None:
        """Switch to training through the fake-quantized body from `epoch` on, starting from
        the best float epoch at the QAT learning rate; the best epoch is then chosen among QAT
        epochs only."""
        best = self.state["best_epoch"]
        if best and best != self.state["epoch"]:
            self.model.load_state_dict(load_checkpoint(self._epoch_dir(best)).state_dict())
        windows = torch.from_numpy(self.cache.windows(self._sample_rows())).to(self.device)
        self.qat = QATBody(self.model, training_output_range(self.model, windows))
        self._build_student()
        for group in self.optimizer.param_groups:
            group["lr"] = self.settings.qat_learning_rate
        self.state.update(qat_start=epoch, best_val=math.inf, bad_epochs=0)
        log.info("quantization-aware training from epoch %d, starting from %s", epoch,
                 f"the float epoch {best}" if best else "the initialised student")

    def _next_epoch(self) -> bool:
        """Whether another epoch runs; starts the QAT phase when its time has come (the last
        qat epochs of the run, or at once when early stopping ends the float phase)."""
        s, state = self.settings, self.state
        stopped = state["bad_epochs"] >= s.patience
        if not s.qat:
            return not stopped and state["epoch"] < s.epochs
        if state["qat_start"]:
            return not stopped and state["epoch"] + 1 < state["qat_start"] + s.qat_epoch_count
        if stopped or state["epoch"] + 1 > s.epochs - s.qat_epoch_count:
            self._start_qat(state["epoch"] + 1)
        return True

    # -- distillation objective and augmentation ------------------------------------------
    def _base_stride(self) -> int:
        """Store windows per base-grid step: base hop / store hop (1 without base_hop)."""
        s, hop = self.settings, self.index.hop_seconds
        stride = 1 if s.base_hop is None else int(round(s.base_hop / hop))
        if s.base_hop is not None and (stride < 1 or abs(stride * hop - s.base_hop) > 1e-6):
            raise SettingError("base_hop", f"{{base_hop}} {s.base_hop} is not a whole multiple "
                               f"of the teacher store's hop {hop}")
        if s.augment != "none" and stride < 2:
            raise SettingError("augment", f"{{augment}} {s.augment} needs teacher embeddings "
                               f"at a finer hop than the training windows: set {{base_hop}} (a "
                               f"multiple >= 2 of the store's hop {hop} s)")
        return stride

    def _load_teacher_blocks(self) -> np.ndarray | None:
        if self.settings.intermediate != "alp":
            return None
        path = self.settings.teacher_blocks or Path(self.reducer["embeddings"]["path"]) / BLOCKS_DIR
        features, self.teacher_widths = load_block_features(
            path, {k: self.reducer["embeddings"][k] for k in
                   ("window_seconds", "hop_seconds", "center")}, len(self.index))
        return features

    def _build_objective(self) -> KDObjective:
        layers = None
        if self.teacher_blocks is not None:
            fit = self.teacher_blocks[self.train_rows]
            layers = LayerProjection(self.cfg.filters, self.teacher_widths,
                                     torch.from_numpy(fit.mean(0)), torch.from_numpy(fit.std(0)))
        return KDObjective(self.settings, self.cfg.embedding_dim,
                           self.targets.shape[1], len(self.index), layers)

    def _check_gain(self) -> None:
        """Gain is exact only when the teacher saw what the student sees, through a frontend
        that references dB to each window's maximum (see training.kd.augment)."""
        if "gain" not in self.settings.augment:
            return
        teacher_frontend = self.reducer["embeddings"]["producer"]["config"]["frontend"]
        if teacher_frontend != dataclasses.asdict(self.cfg.frontend) or not gain_is_exact(
                self.cfg.frontend):
            raise SettingError("augment", "{augment} shift+gain needs the teacher's frontend "
                               "to be the student's kapre-style dB frontend (gain is exact only "
                               "there); use {augment} shift")

    # -- checkpoint bookkeeping ------------------------------------------------------------
    def _check_out(self, resume: bool) -> None:
        epochs = committed_epochs(self.out)
        if epochs and not resume:
            raise SettingError("out", f"{self.out} already holds a training run: set {{resume}} "
                               "to continue it, {overwrite} to replace it, or choose another "
                               "{out}")
        if resume and not epochs and (self.out / "manifest.json").is_file():
            raise SettingError("resume", f"{self.out} holds a checkpoint without epochs/ (not "
                               "made by this sea's distill); cannot resume it: set {overwrite} "
                               "or choose another {out}")

    def _epoch_dir(self, epoch: int) -> Path:
        return self.out / EPOCHS_DIR / f"{epoch:04d}"

    def _load_last(self) -> None:
        last = self._epoch_dir(committed_epochs(self.out)[-1])
        saved_cfg = ModelConfig.from_dict(json.loads((last / "config.json").read_text()))
        if saved_cfg != self.cfg:
            raise ValueError(f"{self.out} was trained with another student config; cannot resume")
        trainer = load_tensors(last / "trainer.pt")
        if trainer["reducer_id"] != self.reducer["reducer_id"]:
            raise ValueError(f"{self.out} was trained on other targets; cannot resume")
        self.model.load_state_dict(load_checkpoint(last).state_dict())
        self._check_qat_resume(read_manifest(last).get("training", {}).get("qat") or False)
        saved_terms = read_manifest(last).get("objective", {}).get("terms", ["mse"])
        if list(saved_terms) != list(self.objective.term_names):
            raise SettingError("loss", f"{self.out} was trained with loss terms {saved_terms}; "
                               "resume it with the same {loss} and {intermediate}")
        self.objective.load_state_dict(trainer.get("objective", {}))
        self.optimizer.load_state_dict(trainer["optimizer"])
        self.scaler.load_state_dict(trainer["scaler"])
        self.state = {"qat_start": 0, **trainer["state"]}
        if self.state["qat_start"]:  # the fake-quantized body exactly as saved
            self.qat = QATBody.restore(self.model, trainer["qat"])
        with open(last / "history.csv", newline="") as f:
            self.history = list(csv.DictReader(f))
        if self.ranks.main:  # rank 0 alone writes; repair what a kill between commit and
            self._publish()  # publication left behind
        log.info("resuming %s after epoch %d (best val loss %.4g at epoch %d)", self.out,
                 self.state["epoch"], self.state["best_val"], self.state["best_epoch"])

    def _check_qat_resume(self, saved: dict[str, Any] | bool) -> None:
        count = self.settings.qat_epoch_count
        if bool(saved) != self.settings.qat or (saved and saved["epochs"] != count):
            was = f"with qat for {saved['epochs']} epochs" if saved else "without qat"
            raise ValueError(f"{self.out} was trained {was}; resume it with the same qat "
                             "settings")

    def _qat_record(self) -> dict[str, Any] | bool:
        """manifest `training.qat`: False, or the QAT phase (`from_epoch` None: not begun)."""
        if not self.settings.qat:
            return False
        return {"epochs": self.settings.qat_epoch_count, "lr": self.settings.qat_learning_rate,
                "from_epoch": self.state["qat_start"] or None, "scheme": QAT_SCHEME,
                "export": "float weights as trained by QAT (BatchNorm unfolded); the int8 "
                          "export calibrates its ranges on its calibration windows"}

    def _record(self) -> dict[str, Any]:
        return {"reducer_id": self.reducer["reducer_id"],
                "reducer": {"path": str(self.reducer_dir.resolve()),
                            "kind": self.reducer["config"]["reducer"],
                            "sampling": self.reducer["config"]["sampling"]},
                "teacher": self.reducer["embeddings"]["producer"],
                "clip_store": self.reducer["embeddings"]["clip_store"],
                "split": self.split,
                "objective": {"terms": list(self.objective.term_names),
                              "base_stride": self.stride},
                "training": {**self.settings.record(), "device": str(self.device),
                             "amp": str(self.amp).replace("torch.", "") if self.amp else False,
                             "processes": self.ranks.world, "qat": self._qat_record()}}

    def _save_epoch(self) -> None:
        """Commit this epoch's model, trainer state and history in one rename (rank 0 only)."""
        if not self.ranks.main:
            return
        final = self._epoch_dir(self.state["epoch"])
        for stale in final.parent.glob(f".*{TEMPORARY_SUFFIX}"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        model = self.model if self.qat is None else self.qat.float_model(self.model)
        with atomic_directory(final) as work:  # its rename is the commit point
            save_checkpoint(work, model, {**self._record(), **self.state})
            buf = io.BytesIO()
            torch.save({"optimizer": self.optimizer.state_dict(),
                        "scaler": self.scaler.state_dict(),
                        "objective": self.objective.state_dict(), "state": self.state,
                        "reducer_id": self.reducer["reducer_id"],
                        **({"qat": self.qat.state()} if self.qat is not None else {})}, buf)
            atomic_write_bytes(work / "trainer.pt", buf.getvalue())
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=self.history_fields)
            writer.writeheader()
            writer.writerows(self.history)
            atomic_write_bytes(work / "history.csv", text.getvalue().encode())
        self._publish()

    def _publish(self) -> None:
        """Point the root at the committed epochs (best model, `last`, history) and drop the
        epochs no longer needed. Idempotent: derived from committed epochs only."""
        best, last = self.state["best_epoch"], self.state["epoch"]
        if best:
            best_dir = self._epoch_dir(best)
            manifest = read_manifest(best_dir, CHECKPOINT_KIND)
            atomic_write_bytes(self.out / "config.json", (best_dir / "config.json").read_bytes())
            in_epoch = f"{EPOCHS_DIR}/{best_dir.name}/"
            # the digests stay those of the epoch's files, named from the root (config.json
            # is copied there byte for byte, so it keeps its root name)
            files = {(name if name == "config.json" else in_epoch + name): record
                     for name, record in manifest.get("files", {}).items()}
            atomic_write_json(self.out / "manifest.json", {
                **manifest, "weights": in_epoch + manifest["weights"], "files": files})
        link = self.out / "last"
        tmp_link = self.out / ".last.tmp"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(Path(EPOCHS_DIR) / f"{last:04d}")
        os.replace(tmp_link, link)
        atomic_write_bytes(self.out / "history.csv",
                           (self._epoch_dir(last) / "history.csv").read_bytes())
        for epoch in committed_epochs(self.out):
            if epoch not in (best, last):
                shutil.rmtree(self._epoch_dir(epoch))

    def close(self) -> None:
        """Release the output's write lock."""
        self._release()

    # -- training --------------------------------------------------------------------------
    def _objective(self, net: torch.nn.Module, windows: np.ndarray, targets: np.ndarray,
                   share: BatchShare, exponents: np.ndarray | None = None
                   ) -> tuple[torch.Tensor, float, dict[str, float], float, torch.Tensor]:
        """(loss to backpropagate, global batch loss, terms, censored share, student
        embeddings) of this rank's share of one batch; `exponents`: exact gains 2^k per row."""
        rows = share.local_rows
        audio = torch.from_numpy(windows).to(self.device, non_blocking=True)
        if exponents is not None:
            audio = audio * exact_gains(self.model.frontend, audio, exponents[rows])[:, None]
        if len(rows):
            pred, blocks = net(audio)
        else:  # an evaluation rank left without windows still joins the batch's gathers
            pred = audio.new_zeros((0, self.cfg.embedding_dim))
            blocks = (None if self.teacher_blocks is None else
                      [audio.new_zeros((0, width)) for width in self.cfg.filters])
        teacher_blocks = (None if self.teacher_blocks is None else
                          torch.from_numpy(self.teacher_blocks[rows]).to(self.device))
        base = rows - self.index.window_in_clip[rows] % self.stride  # censor per base window
        loss, value, terms, censored = self.objective(
            pred.float(), torch.from_numpy(targets).to(self.device, non_blocking=True),
            torch.from_numpy(base), blocks, teacher_blocks, share)
        return loss, value, terms, censored, pred

    def _step(self, windows: np.ndarray, targets: np.ndarray, share: BatchShare,
              exponents: np.ndarray | None) -> tuple[float, dict[str, float], float]:
        loss, value, terms, censored, _ = self._objective(self.trainer, windows, targets, share,
                                                          exponents)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        ddp.average_gradients(self.objective.parameters())  # DDP averages the student's
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value, terms, censored

    def _epoch_rows(self, rng: np.random.Generator) -> np.ndarray:
        """This epoch's training rows: the base grid, each moved by a random shift with
        --augment shift (drawn alike on every rank)."""
        if "shift" in self.settings.augment:
            return shifted_rows(self.train_rows, self.left_in_clip, self.stride, rng)
        return self.train_rows

    def train_epoch(self, epoch: int) -> tuple[float, int, float, dict[str, float]]:
        """One pass over the training windows: (mean loss, windows, seconds waiting for data,
        per-term means plus the censored share)."""
        self.student.train()  # the model, and the QAT body's BN and observers
        self.objective.train()
        rng = np.random.default_rng([self.settings.seed, epoch])
        exponents = (gain_exponents(self.settings.gain_db, len(self.index),
                                    np.random.default_rng([self.settings.seed, epoch, 1]))
                     if "gain" in self.settings.augment else None)
        batches = iter_batches(self._epoch_rows(rng), self.settings.batch_size, rng, self.cache,
                               self.targets, self.ranks.rank, self.ranks.world)
        names = (*self.objective.term_names, "censored_share")
        total, count, sums = 0.0, 0, np.zeros(len(names))
        with Prefetcher(batches, depth=3) as data, tqdm(
                total=len(self.train_rows), unit="win", desc=f"epoch {epoch}", leave=False,
                dynamic_ncols=True, disable=not self.ranks.main) as bar:
            for windows, targets, share in data:
                with batch_allocation(self.settings.batch_size):
                    loss, terms, censored = self._step(windows, targets, share, exponents)
                sums += np.array([*terms.values(), censored]) * len(windows)
                total += loss * len(windows)
                count += len(windows)
                bar.update(len(windows) * self.ranks.world)
            wait = data.wait_seconds
        summed = ddp.all_sum(np.concatenate([[total, count], sums]))
        total, count = float(summed[0]), int(summed[1])
        means = {name: float(v) / max(count, 1) for name, v in zip(names, summed[2:])}
        return total / max(count, 1), count, wait, means

    @torch.inference_mode()
    def evaluate(self, rows: np.ndarray) -> tuple[float, float]:
        """(mean loss, pooled R^2) of the student on `rows` (nothing censored; each rank
        scores its share of every batch)."""
        self.student.eval()
        self.objective.eval()
        ddp.broadcast_buffers(self.model)  # every rank scores rank 0's (saved) model
        dim = self.targets.shape[1]
        total, sse, n = 0.0, 0.0, 0
        y_sum = np.zeros(dim)
        y_sq = np.zeros(dim)
        for windows, targets, share in iter_batches(rows, 4 * self.settings.batch_size, None,
                                                    self.cache, self.targets, self.ranks.rank,
                                                    self.ranks.world, keep_last=True):
            with batch_allocation(4 * self.settings.batch_size):
                _, value, _, _, pred = self._objective(self.student, windows, targets, share)
            y = torch.from_numpy(targets).to(self.device)
            total += value * len(windows)
            sse += float(((pred.float() - y) ** 2).sum())
            y_sum += targets.sum(axis=0, dtype=np.float64)
            y_sq += (targets.astype(np.float64) ** 2).sum(axis=0)
            n += len(windows)
        summed = ddp.all_sum(np.concatenate([[total, sse, n], y_sum, y_sq]))
        total, sse, n = map(float, summed[:3])  # plain floats: the trainer state loads weights-only
        y_sum, y_sq = summed[3:3 + dim], summed[3 + dim:]
        sst = float((y_sq - y_sum ** 2 / max(n, 1)).sum())
        return total / max(n, 1), r2_score(sse, sst)

    def fit(self) -> list[dict[str, Any]]:
        """Train until `epochs` or early stopping; returns the history rows."""
        try:
            return self._fit()
        finally:
            self.close()

    def _fit(self) -> list[dict[str, Any]]:
        s = self.settings
        tb = _tensorboard(self.out) if self.ranks.main else None
        log.info("distilling %s (%d windows train, %d val, %s split) on %s%s", self.cfg.name,
                 len(self.train_rows), len(self.val_rows), self.split["by"], self.device,
                 f" x {self.ranks.world} ranks" if self.ranks.world > 1 else "")
        while self._next_epoch():
            epoch = self.state["epoch"] + 1
            start = time.perf_counter()
            train_loss, count, wait, term_means = self.train_epoch(epoch)
            train_seconds = time.perf_counter() - start
            val_loss, val_r2 = self.evaluate(self.val_rows)
            seconds = time.perf_counter() - start
            improved = val_loss < self.state["best_val"]
            if improved:
                self.state.update(best_val=val_loss, best_epoch=epoch, bad_epochs=0, best_r2=val_r2)
            else:
                self.state["bad_epochs"] += 1
            self.state["epoch"] = epoch
            row = {"epoch": epoch, "train_loss": f"{train_loss:.6g}", "val_loss": f"{val_loss:.6g}",
                   "val_r2": f"{val_r2:.4f}", "seconds": f"{seconds:.2f}",
                   "windows_per_second": f"{count / max(train_seconds, 1e-9):.1f}",
                   "data_wait_share": f"{wait / max(train_seconds, 1e-9):.3f}",
                   **{(k if k == "censored_share" else f"train_{k}"): f"{v:.6g}"
                      for k, v in term_means.items()}}
            self.history.append(row)
            self._save_epoch()
            log.info("epoch %d: train %.4g  val %.4g  val R^2 %.4f  (%.0f win/s, %.0f%% data wait)%s",
                     epoch, train_loss, val_loss, val_r2, count / max(train_seconds, 1e-9),
                     100 * wait / max(train_seconds, 1e-9), "  *best*" if improved else "")
            if tb is not None:
                for key in ("train_loss", "val_loss", "val_r2"):
                    tb.add_scalar(key, float(row[key]), epoch)
        if self.state["bad_epochs"] >= s.patience:
            log.info("early stop: no val improvement for %d epochs", s.patience)
        if tb is not None:
            tb.close()
        return self.history


def committed_epochs(out: Path) -> list[int]:
    """Epoch numbers with a committed directory under `out/epochs`, ascending."""
    folder = Path(out) / EPOCHS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())


def _tensorboard(out: Path):
    """A SummaryWriter under out/tensorboard when tensorboard is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))
