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

import argparse
import logging
from pathlib import Path

from sea.argtypes import learning_rate, positive_float, positive_int, sample_rate, threads

log = logging.getLogger("sea.distill")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.options import AUGMENTS, CENSOR, FINAL_ACTIVATIONS, INTERMEDIATE, LOSSES

    parser.add_argument("--store", type=Path, required=True, help="clip store the targets come from")
    parser.add_argument("--targets", type=Path, required=True, metavar="RED",
                        help="reducer directory written by `sea reduce`")
    parser.add_argument("--student", default="student3",
                        help="student0..student3 (SEA paper) or custom (with --filters)")
    parser.add_argument("--filters", type=_ints, help="custom student: filters per block, e.g. 16,32,32,64")
    parser.add_argument("--dim", type=positive_int, help="custom student: embedding size (= last filters)")
    parser.add_argument("--n-mels", type=positive_int, help="custom student: mel bands (default 64)")
    parser.add_argument("--n-fft", type=positive_int, help="custom student: DFT size (default 1024)")
    parser.add_argument("--hop-length", type=positive_int, help="custom student: STFT hop (default 160)")
    parser.add_argument("--sample-rate", type=sample_rate,
                        help="custom student: input rate (default 8000)")
    parser.add_argument("--out", type=Path, required=True, metavar="CKPT", help="checkpoint directory")
    parser.add_argument("--epochs", type=positive_int, default=30, help="maximum epochs (default 30)")
    parser.add_argument("--lr", type=learning_rate, default=1e-4,
                        help="Adam learning rate (default 1e-4)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="windows per step (64)")
    parser.add_argument("--loss", choices=LOSSES, default="mse",
                        help="mse to the targets (default, the paper), cosine, relational "
                             "(KL between teacher and student similarity distributions over an "
                             "anchor queue), or mse+relational")
    parser.add_argument("--relational-weight", type=float, default=1.0,
                        help="weight of the relational term of mse+relational")
    parser.add_argument("--relational-bank", type=positive_int, default=4096,
                        help="anchor queue size of the relational loss (windows, 4096)")
    parser.add_argument("--relational-temperature", type=positive_float, default=0.1,
                        help="softmax temperature of the relational loss (0.1)")
    parser.add_argument("--intermediate", choices=INTERMEDIATE, default="none",
                        help="alp: match each student block to an attention-weighted mix of all "
                             "teacher blocks (needs `sea teacher-embed --block-features`)")
    parser.add_argument("--alp-weight", type=float, default=1.0, help="weight of the alp term")
    parser.add_argument("--teacher-blocks", metavar="DIR",
                        help="teacher block features (default: EMB/blocks of the targets' EMB)")
    parser.add_argument("--censor", choices=CENSOR, default="none",
                        help="scaffold: down-weight windows whose running error stays far "
                             "above the batch's")
    parser.add_argument("--censor-factor", type=positive_float, default=3.0,
                        help="censor a window above this many times the batch mean error (3)")
    parser.add_argument("--censor-weight", type=float, default=0.0,
                        help="weight of a censored window (0: dropped while censored)")
    parser.add_argument("--augment", choices=AUGMENTS, default="none",
                        help="exact augmentation: shift (neighbouring fine-hop windows with "
                             "their own teacher targets; needs --base-hop), shift+gain (plus a "
                             "random gain where the kapre dB rule makes it target-preserving)")
    parser.add_argument("--base-hop", type=positive_float,
                        help="hop between training windows, s: a multiple of the teacher "
                             "store's hop (default: the store's hop)")
    parser.add_argument("--gain-db", type=float, default=12.0,
                        help="shift+gain: gains are powers of two (exact in float32) within "
                             "+-this many dB (12: x1/4 .. x4)")
    parser.add_argument("--final-activation", choices=FINAL_ACTIVATIONS, default="auto",
                        help="end in BN+ReLU (relu), linearly (linear), or auto: relu unless "
                             "some target is negative")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience, epochs")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of recordings held out for validation")
    parser.add_argument("--val-folds", help="hold out these folds instead, e.g. 4,5")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of initialisation, validation split and shuffling (0)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the checkpoint in --out with a new run")
    parser.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    parser.add_argument("--resampler", choices=("soxr", "resampy"), default="soxr",
                        help="store rate -> student rate resampler for the audio cache (soxr)")
    parser.add_argument("--cache-dir", help="where the student-rate copy of the store's audio "
                        "goes (default: CKPT/cache)")
    parser.add_argument("--threads", type=threads,
                        help="CPU threads for torch (default: every core; fewer can be faster "
                             "on a machine busy with other work)")
    parser.add_argument("--amp", choices=("auto", "fp16", "bf16", "off"), default="auto",
                        help="mixed precision of the conv body: auto (fp16 on CUDA, off on CPU), "
                             "fp16 (with gradient scaling), bf16, or off")
    parser.add_argument("--qat", action="store_true",
                        help="quantization-aware distillation: the last epochs train through "
                             "the int8 body as `sea export --quantize int8` quantizes it "
                             "(fake quantization, BN folded, equalized outputs); the export "
                             "then calibrates the QAT-trained weights (docs/training.md)")
    parser.add_argument("--qat-epochs", type=positive_int, metavar="N",
                        help="epochs of the QAT phase (default: a quarter of --epochs, at "
                             "least 1); they start from the best float epoch")
    parser.add_argument("--qat-lr", type=positive_float, metavar="LR",
                        help="learning rate of the QAT epochs (default: --lr / 10)")
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="data-parallel processes on this machine (DDP via torchrun: one "
                             "per GPU on CUDA, gloo on CPU); --batch-size and --lr stay the "
                             "global values. Several machines: run `torchrun --nnodes ... -m "
                             "sea.cli distill ...` yourself (see docs/scaling.md)")


def student_config(args: argparse.Namespace):
    """The ModelConfig named by --student (and the custom options)."""
    import dataclasses

    from sea.configs import SEA_FRONTEND, custom_config, get_config

    custom_opts = {k: getattr(args, k) for k in ("n_mels", "n_fft", "hop_length", "sample_rate")
                   if getattr(args, k) is not None}
    if args.student != "custom":
        if args.filters or args.dim or custom_opts:
            raise ValueError("--filters/--dim/frontend options need --student custom")
        cfg = get_config(args.student)
        if cfg.family != "student":
            raise ValueError(f"{args.student} is not a student; use student0..student3 or custom")
        return cfg
    if not args.filters:
        raise ValueError("--student custom needs --filters, e.g. --filters 16,32,32,64")
    frontend = dataclasses.replace(SEA_FRONTEND, **custom_opts)
    if frontend.n_fft < frontend.hop_length:
        raise ValueError("--n-fft must be at least --hop-length")
    return custom_config(args.filters, args.dim, frontend=frontend,
                         name=f"custom-{'-'.join(map(str, args.filters))}")


def run(args: argparse.Namespace) -> int:
    from training import ddp

    if args.nproc < 1:
        log.error("--nproc must be at least 1")
        return 2
    if args.qat and args.nproc > 1:
        log.error("--qat runs in one process only (its fake-quantized graph has no "
                  "rank-synchronised BatchNorm): drop --nproc")
        return 2
    if args.nproc > 1 and not ddp.under_torchrun():
        return ddp.launch(args.nproc, args._argv)
    try:
        return _train(args)
    finally:
        ddp.finish()


def _train(args: argparse.Namespace) -> int:
    from training import ddp
    from training.distill import DistillSettings, Distiller

    ranks, device = ddp.init_from_env(args.device)
    if not ranks.main:  # one rank reports; the others would repeat it
        logging.getLogger().setLevel(logging.WARNING)
    threads = args.threads or (ddp.local_cpu_threads() if ranks.world > 1 else None)
    try:
        cfg = student_config(args)
        settings = DistillSettings(
            epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, loss=args.loss,
            relational_weight=args.relational_weight, relational_bank=args.relational_bank,
            relational_temperature=args.relational_temperature, intermediate=args.intermediate,
            alp_weight=args.alp_weight, teacher_blocks=args.teacher_blocks, censor=args.censor,
            censor_factor=args.censor_factor, censor_weight=args.censor_weight,
            augment=args.augment, base_hop=args.base_hop, gain_db=args.gain_db,
            seed=args.seed, patience=args.patience,
            val_fraction=args.val_fraction,
            val_folds=tuple(args.val_folds.split(",")) if args.val_folds else (),
            final_activation=args.final_activation, resampler=args.resampler,
            device=device, threads=threads, cache_dir=args.cache_dir, amp=args.amp,
            qat=args.qat, qat_epochs=args.qat_epochs, qat_lr=args.qat_lr)
        if args.resume and args.overwrite:
            raise ValueError("--resume and --overwrite exclude each other")
        distiller = Distiller(args.store, args.targets, cfg, args.out, settings, args.resume,
                              args.overwrite)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.error("%s", exc.args[0] if isinstance(exc, KeyError) else exc)
        return 2
    history = distiller.fit()
    best = distiller.state
    log.info("%s: best epoch %d of %d, val loss %.4g, val R^2 %s", args.out, best["best_epoch"],
             len(history), best["best_val"], best.get("best_r2"))
    from training.r2_warning import low_r2_warning

    warning = low_r2_warning(best.get("best_r2"))
    if warning:
        log.warning("%s", warning)
    return 0
