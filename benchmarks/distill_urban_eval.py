"""Real-data distillation proof: a student >= 4x smaller than the published EdgeL3 SEA-64 model
learns its embeddings on urban-eval's real clips; R^2 is measured on held-out folds.

    python benchmarks/distill_urban_eval.py [--out DIR] [--epochs 15] [--threads N]

Steps (each a `sea` command; finished steps are kept when re-run with the same --out):
  sea prepare urban-eval:DATA --out DIR/store --sample-rate 22050
  sea teacher-embed DIR/store --teacher edgel3-sea-64 --weights SEA64.h5 --out DIR/emb --hop 0.5
  sea reduce DIR/emb --reducer identity --out DIR/red
  sea distill --store DIR/store --targets DIR/red --student custom --filters 16,32,32,64 \
      --val-folds 4,5 --lr 1e-3 --out DIR/student
Then the saved student embeds the held-out clips again (through `training.embedder`, as any
user of the checkpoint would) and R^2 against the teacher's embeddings is printed per fold;
DIR/result.json holds the figures. CPU only unless a GPU is present; deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sea.cli import main as sea

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def r2(predicted: np.ndarray, expected: np.ndarray) -> float:
    return float(1 - ((predicted - expected) ** 2).sum()
                 / ((expected - expected.mean(axis=0)) ** 2).sum())


def held_out_r2(out: Path, folds: list[str], store_dir: Path | None = None) -> dict[str, float]:
    """R^2 of the saved student against the targets, per held-out fold and pooled
    (`store_dir`: the distillation's clip store, default OUT/store)."""
    from sea.embedding_store import EmbeddingStore
    from sea.reducer import TARGETS_FILE
    from sea.store import ClipStore
    from training.checkpoint import build_model
    from training.embedder import Embedder

    store = ClipStore(store_dir or out / "store")
    rules = EmbeddingStore(out / "emb").window_rules
    index = store.window_index(**rules)
    targets = np.load(out / "red" / TARGETS_FILE, allow_pickle=False)
    student = Embedder(build_model(str(out / "student")), batch_size=128)
    results, pooled_pred, pooled_true = {}, [], []
    for fold in folds:
        clips = [p for p, r in enumerate(store.records) if r.fold == fold]
        predicted = np.concatenate([student.embed(store.audio_at(p), store.sample_rate,
                                                  rules["hop_seconds"], rules["center"])[0]
                                    for p in clips])
        expected = targets[np.isin(index.clip_pos, clips)]
        results[f"fold {fold}"] = r2(predicted, expected)
        pooled_pred.append(predicted)
        pooled_true.append(expected)
    results["pooled"] = r2(np.concatenate(pooled_pred), np.concatenate(pooled_true))
    return results


def targets_path(out: Path, reducer: str = "identity") -> Path:
    """The reducer directory teacher_target_steps writes for `reducer`."""
    return out / ("red" if reducer == "identity" else f"red-{reducer}")


def teacher_target_steps(store: Path, out: Path, weights: Path, hop: str,
                         threads: list[str], reducer: str = "identity"
                         ) -> list[tuple[Path, list[str]]]:
    """`sea` steps: EdgeL3 SEA-64 embeddings of `store` (OUT/emb), reduced by `reducer`
    (identity: OUT/red; pca: 64-d centred targets, as the quickstart's, in OUT/red-pca)."""
    red = targets_path(out, reducer)
    return [(out / "emb", ["teacher-embed", str(store), "--teacher", "edgel3-sea-64",
                           "--weights", str(weights), "--out", str(out / "emb"), "--hop", hop,
                           *threads]),
            (red, ["reduce", str(out / "emb"), "--reducer", reducer, "--out", str(red),
                   *([] if reducer == "identity" else ["--dim", "64"])])]


def run_steps(steps: list[tuple[Path, list[str]]]) -> bool:
    """Run each (output dir, `sea` argv) step not finished yet; False when one fails."""
    for done_marker, argv in steps:
        if (done_marker / "manifest.json").is_file() and argv[0] != "teacher-embed":
            continue  # teacher-embed resumes itself; the others are quick to trust
        if sea(argv) != 0:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/distill-urban-eval"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--filters", default="16,32,32,64")
    parser.add_argument("--hop", default="0.5", help="window hop of the training data, s")
    parser.add_argument("--epochs", default="15")
    parser.add_argument("--lr", default="1e-3")
    parser.add_argument("--val-folds", default="4,5")
    parser.add_argument("--threads", help="CPU threads (default: every core)")
    args = parser.parse_args()
    data = args.shared / "data" / "urban-eval"
    weights = args.shared / "fixtures" / "edgel3_sea_ust_audio_emb_64.h5"
    for path in (data, weights):
        if not path.exists():
            print(f"{path} is missing", file=sys.stderr)
            return 2
    out = args.out
    threads = ["--threads", args.threads] if args.threads else []
    steps = [(out / "store", ["prepare", f"urban-eval:{data}", "--out", str(out / "store"),
                              "--sample-rate", "22050", "--no-progress"]),
             *teacher_target_steps(out / "store", out, weights, args.hop, threads)]
    if not run_steps(steps):
        return 1
    resume = ["--resume"] if (out / "student" / "history.csv").is_file() else []
    if sea(["distill", "--store", str(out / "store"), "--targets", str(out / "red"),
            "--student", "custom", "--filters", args.filters, "--val-folds", args.val_folds,
            "--lr", args.lr, "--epochs", args.epochs, "--out", str(out / "student"),
            *threads, *resume]) != 0:
        return 1

    from sea.configs import count_parameters, get_config
    from sea.manifest import read_manifest
    from training.checkpoint import build_model

    student_cfg = build_model(str(out / "student")).cfg
    teacher_params = count_parameters(get_config("edgel3-sea-64"))
    student_params = count_parameters(student_cfg)
    manifest = read_manifest(out / "student")
    result = {"teacher": "edgel3-sea-64", "teacher_params": teacher_params,
              "student": student_cfg.name, "student_params": student_params,
              "size_ratio": round(teacher_params / student_params, 2),
              "best_epoch": manifest["best_epoch"],
              "epochs_run": read_manifest(out / "student" / "last")["epoch"],
              "split": manifest["split"],
              "held_out_r2": held_out_r2(out, args.val_folds.split(","))}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
