"""student-micro on real data: distilled from EdgeL3 SEA-64 on urban-eval, exported for a
Cortex-M4, and evaluated on ESC-10 clips it never saw, as float, int8 TFLite and TFLM int8.

    python benchmarks/student_micro_esc10.py [--out DIR] [--epochs 30] [--threads 1]

Protocol (no ESC-10 evaluation clip takes part in distillation, calibration or model choice):
  urban-eval is split by its original ESC-10 folds into DIR/data/distill (ESC-10 folds 1-3 and
  every UrbanSound8K clip) and DIR/data/eval (ESC-10 folds 4-5; files hard-linked, or copied).
  sea prepare urban-eval:DIR/data/distill --out DIR/distill-store   (and the same for eval)
  sea teacher-embed DIR/distill-store --teacher edgel3-sea-64 --weights SEA64.h5 --hop 0.25
  sea reduce ... --reducer identity
  sea distill ... --student student-micro --val-folds 3 --lr 1e-3   (early stopping on fold 3)
  sea export DIR/student --target micro --board cortex-m4 --calibration DIR/distill-store
  TFLM parity on windows of the eval clips (micro_parity: TFLM vs TFLite int8 vs torch float)
  sea evaluate --model DIR/student --model DIR/bundle --model DIR/bundle/micro
      --model edgel3-sea-64=SEA64.h5 --data DIR/eval-store --protocol folds  (2-fold CV, 4<->5)
Finished steps are kept when re-run with the same --out; DIR/result.json holds the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
from pathlib import Path

from distill_urban_eval import held_out_r2, run_steps, teacher_target_steps  # sibling script
from sea.cli import main as sea

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = "edgel3_sea_ust_audio_emb_64.h5"


def split_urban_eval(data: Path, out: Path, eval_folds: set[str]) -> dict[str, int]:
    """DIR/data/{distill,eval}: urban-eval's metadata split by ESC-10 fold, audio linked."""
    with open(data / "metadata.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    parts = {"distill": [r for r in rows
                         if not (r["dataset"] == "ESC-10" and r["fold"] in eval_folds)],
             "eval": [r for r in rows if r["dataset"] == "ESC-10" and r["fold"] in eval_folds]}
    for name, part in parts.items():
        root = out / name
        if (root / "metadata.csv").is_file():
            continue
        for row in part:
            source, target = data / row["file"], root / row["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                try:
                    os.link(source, target)
                except OSError:  # another filesystem, or links not allowed: copy
                    shutil.copyfile(source, target)
        partial = root / "metadata.csv.partial"  # written last: its presence means complete
        with open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
        partial.replace(root / "metadata.csv")
    return {name: len(part) for name, part in parts.items()}


def store_steps(out: Path) -> tuple[dict[str, Path], list[tuple[Path, list[str]]]]:
    """The clip stores of the split ({"distill": OUT/distill-store, "eval": OUT/eval-store})
    and the `sea prepare` steps that build them from OUT/data."""
    stores = {name: out / f"{name}-store" for name in ("distill", "eval")}
    return stores, [(stores[name], ["prepare", f"urban-eval:{out / 'data' / name}", "--out",
                                    str(stores[name]), "--sample-rate", "22050", "--no-progress"])
                    for name in stores]


def unseen_folds_parser(doc: str, out: str, students: str, seeds: str,
                        epochs: str) -> argparse.ArgumentParser:
    """The options of the scripts that distill on urban-eval and test on the unseen ESC-10
    folds 4-5 (qat_vs_ptq.py, int8_teacher_targets.py), with their defaults."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(out))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--students", default=students)
    parser.add_argument("--seeds", default=seeds)
    parser.add_argument("--epochs", default=epochs)
    parser.add_argument("--lr", default="1e-3")
    parser.add_argument("--train-hop", default="0.5", help="window hop of the training data, s")
    parser.add_argument("--eval-hop", default="0.5", help="embedding hop of the evaluation, s")
    parser.add_argument("--threads", default="1")
    return parser


def unseen_folds_split(args: argparse.Namespace) -> tuple[Path, dict[str, Path],
                                                          list[tuple[Path, list[str]]]] | None:
    """(teacher weights, stores, their `sea prepare` steps) of urban-eval split so that ESC-10
    folds 4-5 are unseen; None (said on stderr) when the shared inputs are missing."""
    inputs = shared_inputs(args.shared)
    if inputs is None:
        return None
    data, weights = inputs
    split_urban_eval(data, args.out / "data", {"4", "5"})
    return (weights, *store_steps(args.out))


def shared_inputs(shared: Path) -> tuple[Path, Path] | None:
    """urban-eval and the EdgeL3 SEA-64 weights under `shared`; None (said on stderr) when
    one is missing."""
    data, weights = shared / "data" / "urban-eval", shared / "fixtures" / WEIGHTS
    for path in (data, weights):
        if not path.exists():
            print(f"{path} is missing", file=sys.stderr)
            return None
    return data, weights


def eval_parity(out: Path, windows: int, seed: int) -> dict:
    """TFLM vs TFLite int8 vs torch float on `windows` windows of the evaluation clips."""
    from deploy.exporter import torch_embed
    from deploy.micro.build import micro_parity
    from deploy.micro.embedder import MicroEmbedder
    from deploy.representative import store_windows
    from training.checkpoint import build_model

    micro = MicroEmbedder(out / "bundle" / "micro")
    real = store_windows(out / "eval-store", micro.sample_rate, windows, seed=seed).windows
    model = build_model(str(out / "student")).eval()
    return micro_parity(micro.model, out / "bundle", torch_embed(model, real), real)


def accuracy_table(report: Path) -> dict[str, dict[str, dict[str, float]]]:
    results = json.loads((report / "results.json").read_text())
    table = {}
    for model in results["models"]:
        table[model["name"]] = {
            key: {"mean": res["mean"]["accuracy"], "std": res["std"]["accuracy"],
                  "folds": {f["fold"]: f["accuracy"] for f in res["folds"]}}
            for key, res in model.get("methods", {}).items()}
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/student-micro"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--eval-folds", default="4,5", help="ESC-10 folds kept for evaluation")
    parser.add_argument("--val-folds", default="3", help="distillation's early-stopping folds")
    parser.add_argument("--train-hop", default="0.25", help="window hop of the training data, s")
    parser.add_argument("--eval-hop", default="0.1", help="embedding hop of the evaluation, s")
    parser.add_argument("--epochs", default="30")
    parser.add_argument("--lr", default="1e-3")
    parser.add_argument("--board", default="cortex-m4")
    parser.add_argument("--parity-windows", type=int, default=256)
    parser.add_argument("--threads", default="1", help="torch / TFLite CPU threads")
    parser.add_argument("--skip-evaluate", action="store_true",
                        help="stop after the export and the parity check")
    args = parser.parse_args()
    inputs = shared_inputs(args.shared)
    if inputs is None:
        return 2
    data, weights = inputs
    out = args.out
    eval_folds = set(args.eval_folds.split(","))
    if eval_folds & set(args.val_folds.split(",")):
        print("--val-folds must not overlap --eval-folds", file=sys.stderr)
        return 2
    clips = split_urban_eval(data, out / "data", eval_folds)
    threads = ["--threads", args.threads]
    stores, steps = store_steps(out)
    distill_store, eval_store = stores["distill"], stores["eval"]
    steps += teacher_target_steps(distill_store, out, weights, args.train_hop, threads)
    if not run_steps(steps):
        return 1
    resume = ["--resume"] if (out / "student" / "history.csv").is_file() else []
    if sea(["distill", "--store", str(distill_store), "--targets", str(out / "red"),
            "--student", "student-micro", "--val-folds", args.val_folds, "--lr", args.lr,
            "--epochs", args.epochs, "--out", str(out / "student"), *threads, *resume]) != 0:
        return 1
    if not (out / "bundle" / "micro" / "manifest.json").is_file():
        shutil.rmtree(out / "bundle", ignore_errors=True)  # an unfinished export
        if sea(["export", str(out / "student"), "--out", str(out / "bundle"), "--target",
                "micro", "--board", args.board, "--calibration", str(distill_store)]) != 0:
            return 1

    from sea.manifest import read_manifest

    micro_manifest = read_manifest(out / "bundle" / "micro")
    result = {
        "protocol": {"distill": f"urban-eval minus ESC-10 folds {args.eval_folds} "
                                f"({clips['distill']} clips), early stopping on fold "
                                f"{args.val_folds}",
                     "evaluate": f"ESC-10 folds {args.eval_folds} ({clips['eval']} clips), "
                                 "leave one fold out"},
        "best_epoch": read_manifest(out / "student")["best_epoch"],
        "val_r2": held_out_r2(out, args.val_folds.split(","), distill_store),
        "micro": {"arena_bytes": micro_manifest["arena_bytes"],
                  "model_bytes": (out / "bundle" / "micro" / "model_int8.tflite").stat().st_size,
                  "budget": micro_manifest["budget"]["boards"][args.board],
                  "export_parity": micro_manifest["parity"]},
        "eval_parity": eval_parity(out, args.parity_windows, seed=1),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")  # before the long part
    if not args.skip_evaluate:
        report = out / "report"
        if sea(["evaluate", "--model", str(out / "student"), "--model", str(out / "bundle"),
                "--model", str(out / "bundle" / "micro"), "--model",
                f"edgel3-sea-64={weights}", "--data", str(eval_store), "--protocol", "folds",
                "--out", str(report), "--classifier", "logreg", "--classifier", "mlp",
                "--hop", args.eval_hop, *threads, "--no-progress"]) != 0:
            return 1
        result["accuracy"] = accuracy_table(report)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
