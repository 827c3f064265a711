"""Distill a student: train it to reproduce reduced teacher embeddings of a clip store's windows.

The student computes its own log-mel frontend (8 kHz for the SEA students) from the store's
audio, resampled once into `CKPT/cache` (or --cache-dir). Validation clips are held out whole
(by --val-folds, or a seeded --val-fraction of recordings); training stops early after
--patience epochs without a lower validation loss. CKPT holds the best epoch's checkpoint
(with the reducer id) and history.csv; every epoch is committed whole (model, optimizer
state, history) as CKPT/epochs/NNNN in one rename, and `--resume` continues from the last one
exactly, wherever the run was killed. A finished CKPT is replaced only with --overwrite. Uses CUDA with mixed precision when present, every CPU core otherwise;
logs to TensorBoard when installed.
Objectives beyond MSE (training/kd): --loss relational or mse+relational, --intermediate alp,
--censor scaffold, --augment shift or shift+gain; they combine, and history.csv gets one
train_<term> column per loss term.
"""

from __future__ import annotations

import logging

from sea.settings import SettingError
from sea.settings_cli import Command, to_argv
from training.settings.distill import DistillSettings

log = logging.getLogger("sea.distill")


def run(settings: DistillSettings) -> int:
    from training import ddp

    if settings.nproc > 1 and not ddp.under_torchrun():
        return ddp.launch(settings.nproc, ["distill", *to_argv(settings)])
    try:
        return _train(settings)
    finally:
        ddp.finish()


def _train(settings: DistillSettings) -> int:
    import dataclasses

    from training import ddp
    from training.distill import Distiller

    ranks, device = ddp.init_from_env(settings.device)
    if not ranks.main:  # one rank reports; the others would repeat it
        logging.getLogger().setLevel(logging.WARNING)
    threads = settings.threads or (ddp.local_cpu_threads() if ranks.world > 1 else None)
    settings = dataclasses.replace(settings, device=device, threads=threads)
    try:
        distiller = Distiller(settings)
    except SettingError:
        raise  # the CLI names the options
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.error("%s", exc.args[0] if isinstance(exc, KeyError) else exc)
        return 2
    history = distiller.fit()
    best = distiller.state
    log.info("%s: best epoch %d of %d, val loss %.4g, val R^2 %s", settings.out,
             best["best_epoch"], len(history), best["best_val"], best.get("best_r2"))
    from training.r2_warning import low_r2_warning

    warning = low_r2_warning(best.get("best_r2"))
    if warning:
        log.warning("%s", warning)
    return 0


COMMAND = Command(DistillSettings, run)
