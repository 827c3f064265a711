"""Is an int8 teacher good enough for distillation targets? Cosine to the float32 teacher on a
whole distillation corpus, and the students distilled from either set of targets.

    nice -n 10 python benchmarks/int8_teacher_targets.py [--out DIR] [--students student-micro]
        [--seeds 0,1,2] [--epochs 8] [--threads 1]

Protocol (the ESC-10 folds 4-5 clips take no part in distillation, calibration or model choice):
- teacher: the published EdgeL3 SEA-64 (the real-weight L3-Net this checkout can run) on
  urban-eval minus ESC-10 folds 4-5 (split as benchmarks/student_micro_esc10.py does);
- float32 targets: `sea teacher-embed --teacher edgel3-sea-64` (torch); int8 targets: the same
  teacher exported with `sea export --quantize int8 --frontend outside`, calibrated on the
  distillation store, then `sea teacher-embed --teacher BUNDLE` over the same windows; both
  reduced with the identity reducer;
- fidelity: per-window cosine int8 vs float32 over every distillation window (min, 1st
  percentile, mean) and the export's own real-window parity report;
- downstream: per student and seed, `sea distill` from each set of targets (early stopping on
  ESC-10 fold 3), then `sea evaluate` of both float checkpoints on ESC-10 folds 4-5 (logistic
  regression on clip means, one fold trains, the other tests, both ways);
- cost: windows/s of both teacher passes (their manifests' last run, this script's --threads).
Finished steps are kept when re-run with the same --out; DIR/results.json holds every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from distill_urban_eval import run_steps, teacher_target_steps  # sibling scripts
from qat_vs_ptq import parity
from student_micro_esc10 import accuracy_table, unseen_folds_parser, unseen_folds_split
from sea.cli import main as sea
from sea.embedding_store import EmbeddingStore


def int8_teacher_steps(store: Path, out: Path, weights: Path, hop: str, threads: list[str],
                       min_cosine: str) -> list[tuple[Path, list[str]]]:
    """`sea` steps: the int8 teacher bundle (OUT/teacher-int8), its embeddings of `store`
    (OUT/emb-int8), identity-reduced (OUT/red-int8)."""
    bundle = out / "teacher-int8"
    return [(bundle, ["export", "edgel3-sea-64", "--weights", str(weights), "--out", str(bundle),
                      "--quantize", "int8", "--frontend", "outside", "--calibration", str(store),
                      "--parity-windows", "64", "--quantized-min-cosine", min_cosine]),
            (out / "emb-int8", ["teacher-embed", str(store), "--teacher", str(bundle), "--out",
                                str(out / "emb-int8"), "--hop", hop, *threads]),
            (out / "red-int8", ["reduce", str(out / "emb-int8"), "--reducer", "identity",
                                "--out", str(out / "red-int8")])]


def fidelity(float_store: Path, int8_store: Path) -> dict:
    """Per-window cosine of the int8 teacher's embeddings to the float32 teacher's."""
    a, b = EmbeddingStore(float_store).all(), EmbeddingStore(int8_store).all()
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1),
                                         1e-30)
    return {"windows": int(len(cosine)), "min_cosine": float(cosine.min()),
            "p1_cosine": float(np.percentile(cosine, 1)), "mean_cosine": float(cosine.mean()),
            "relative_rms_error": float(np.sqrt(((a - b) ** 2).mean() / (a ** 2).mean()))}


def windows_per_second(store: Path) -> float | None:
    run = EmbeddingStore(store).manifest.get("last_run") or {}
    return run["windows"] / run["seconds"] if run.get("seconds") else None


def run_one(args: argparse.Namespace, run: Path, student: str, seed: int, targets: Path,
            stores: dict[str, Path]) -> dict:
    threads = ["--threads", args.threads]
    ckpt = run / "student"
    if not (run / "distilled").is_file():
        resume = ["--resume"] if (ckpt / "history.csv").is_file() else []
        if sea(["distill", "--store", str(stores["distill"]), "--targets", str(targets),
                "--student", student, "--val-folds", "3", "--lr", args.lr, "--epochs",
                args.epochs, "--seed", str(seed), "--out", str(ckpt), *threads, *resume]) != 0:
            return {"error": "distill failed"}
        (run / "distilled").touch()
    report = run / "report"
    if not (report / "results.json").is_file():
        sea(["evaluate", "--model", str(ckpt), "--data", str(stores["eval"]), "--protocol",
             "folds", "--out", str(report), "--classifier", "logreg", "--hop", args.eval_hop,
             *threads, "--no-progress"])
    table = accuracy_table(report)
    return {"student": student, "seed": seed, "targets": targets.name,
            "accuracy": table["student"]["logreg+mean"]["mean"]}


def main() -> int:
    parser = unseen_folds_parser(__doc__, "runs/int8-teacher", "student-micro", "0,1,2", "8")
    parser.add_argument("--min-cosine", default="0.98",
                        help="the int8 teacher export's gate (the measurement wants the bundle "
                             "even where it misses the deployment gate of 0.99)")
    args = parser.parse_args()
    split = unseen_folds_split(args)
    if split is None:
        return 2
    weights, stores, steps = split
    out = args.out
    threads = ["--threads", args.threads]
    steps += teacher_target_steps(stores["distill"], out, weights, args.train_hop, threads)
    steps += int8_teacher_steps(stores["distill"], out, weights, args.train_hop, threads,
                                args.min_cosine)
    if not run_steps(steps):
        return 1
    results = {"settings": vars(args) | {"out": str(out), "shared": str(args.shared)},
               "fidelity": fidelity(out / "emb", out / "emb-int8"),
               "export_parity": parity(out / "teacher-int8"),
               "windows_per_second": {"float32 torch": windows_per_second(out / "emb"),
                                      "int8 TFLite": windows_per_second(out / "emb-int8")},
               "runs": []}
    for student in args.students.split(","):
        for seed in map(int, args.seeds.split(",")):
            for targets in (out / "red", out / "red-int8"):
                run = out / "runs" / student / targets.name / f"seed{seed}"
                results["runs"].append(run_one(args, run, student, seed, targets, stores))
                (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: results[k] for k in ("fidelity", "export_parity", "windows_per_second")},
                     indent=2))
    print("| student | seed | acc, float32 targets | acc, int8 targets |\n|---|---|---|---|")
    by_key = {(r["student"], r["seed"], r["targets"]): r.get("accuracy") for r in results["runs"]}
    for student, seed, _ in sorted(k for k in by_key if k[2] == "red"):
        print(f"| {student} | {seed} | {by_key[(student, seed, 'red')]:.3f} "
              f"| {by_key[(student, seed, 'red-int8')]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
