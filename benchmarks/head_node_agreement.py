"""The node's classes equal `sea evaluate`'s: ESC-10 folds 1-3 fit, folds 4-5 test, one int8
bundle of the published EdgeL3 SEA-64, one logistic-regression head.

    nice python benchmarks/head_node_agreement.py [--out DIR] [--hop 0.1] [--clips N]

Steps (finished ones are kept when re-run with the same --out):
  sea prepare urban-eval:../shared/data/urban-eval --out DIR/store --sample-rate 22050
  sea export SEA64.h5 --config edgel3-sea-64 --quantize int8 --frontend outside
      --calibration DIR/store --quantized-min-cosine 0.98 --out DIR/bundle
  sea head fit --model DIR/bundle --data DIR/store --dataset ESC-10 --fold 1 --fold 2 --fold 3
      --classifier logreg --hop HOP --cache DIR/cache --out DIR/head
  sea export ... --head DIR/head --out DIR/bundle-head  (the same int8 bundle, head inside)
  evaluate's predictions: the library `sea evaluate` runs per fold (embedding cache of
      DIR/bundle-head, fit_and_score) with train = folds 1-3, test = folds 4-5
  sea-node run --bundle DIR/bundle-head --input <the folds 4-5 FLAC files> --hop HOP
      --period 3600 (one period = one whole clip, as evaluation mean-pools a clip)
Prints and writes DIR/agreement.json: both accuracies, per-clip top-1 agreement, the largest
probability difference, and whether the two bundles' model files are identical.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from deploy.node.cli import main as node
from sea.cli import main as sea

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WEIGHTS = SHARED / "fixtures" / "edgel3_sea_ust_audio_emb_64.h5"
TRAIN, TEST = ("1", "2", "3"), ("4", "5")


def step(done: Path, argv: list[str], runner=sea) -> None:
    """Run a `sea` (or `sea-node`) command unless its output `done` is already there."""
    if done.exists():
        return
    started = time.perf_counter()
    if runner(argv) != 0:
        sys.exit(f"failed: {' '.join(argv)}")
    print(f"  {argv[0]} {argv[1] if len(argv) > 1 else ''}: "
          f"{time.perf_counter() - started:.0f} s", flush=True)


def evaluate_predictions(bundle: Path, store_dir: Path, cache: Path, hop: float,
                         threads: int) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """What `sea evaluate` computes for a fold, with train = folds 1-3 and test = folds 4-5:
    (classes, test clip ids, test labels, test scores)."""
    from sea.models import load_embedder, model_id, parse_model
    from sea.store import ClipStore
    from training.evaluate.embedding_cache import cache_dir, load_or_compute
    from training.evaluate.protocols import PROTOCOLS, select
    from training.evaluate.runner import Method, classifier_threads, fit_and_score

    store = ClipStore(store_dir)
    evalset = select(store, PROTOCOLS["folds"], ["ESC-10"])
    spec = parse_model(str(bundle))
    emb = load_or_compute(store, lambda: load_embedder(spec, threads=threads),
                          cache_dir(cache, model_id(spec), store, hop), hop)
    train = np.flatnonzero(np.isin(evalset.folds, TRAIN))
    test = np.flatnonzero(np.isin(evalset.folds, TEST))
    with classifier_threads(threads):
        scores, _ = fit_and_score(Method("logreg", "mean"), evalset, emb, train, test)
    ids = [store.records[p].clip_id for p in evalset.positions[test]]
    return evalset.classes, ids, evalset.y[test], scores


def node_periods(path: Path) -> dict[str, dict[str, float]]:
    """Source file stem -> {label: probability} of its period line."""
    periods = {}
    for line in map(json.loads, path.read_text().splitlines()):
        if line.get("type") == "period":
            periods[Path(line["source"]).stem] = dict(line["top"])
    return periods


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "out" / "head-node-agreement")
    parser.add_argument("--hop", type=float, default=0.1, help="window hop in seconds (0.1)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clips", type=int, help="node on the first N test clips only")
    args = parser.parse_args()
    out, data, hop = args.out, SHARED / "data" / "urban-eval", str(args.hop)
    store, cache = out / "store", out / "cache"
    export = [str(WEIGHTS), "--config", "edgel3-sea-64", "--quantize", "int8",
              "--frontend", "outside", "--calibration", str(store),
              "--quantized-min-cosine", "0.98"]  # SEA-64 int8: min 0.985 on real windows
    step(store / "manifest.json", ["prepare", f"urban-eval:{data}", "--out", str(store),
                                   "--sample-rate", "22050"])
    step(out / "bundle" / "manifest.json", ["export", *export, "--out", str(out / "bundle")])
    step(out / "head" / "manifest.json", [
        "head", "fit", "--model", str(out / "bundle"), "--data", str(store), "--dataset",
        "ESC-10", *[a for f in TRAIN for a in ("--fold", f)], "--classifier", "logreg",
        "--hop", hop, "--cache", str(cache), "--threads", str(args.threads), "--no-progress",
        "--out", str(out / "head")])
    step(out / "bundle-head" / "manifest.json",
         ["export", *export, "--head", str(out / "head"), "--out", str(out / "bundle-head")])

    classes, ids, y, scores = evaluate_predictions(out / "bundle-head", store, cache,
                                                   args.hop, args.threads)
    files = [data / "audio" / "esc10" / f"{Path(i).name}.flac" for i in ids][:args.clips]
    node_out = out / f"node-{len(files)}.jsonl"
    step(node_out, ["run", "--bundle", str(out / "bundle-head"), "--input",
                    *map(str, files), "--hop", hop, "--period", "3600", "--top-k",
                    str(len(classes)), "--no-embeddings", "--threads", str(args.threads),
                    "--out", str(node_out)], runner=node)
    periods = node_periods(node_out)
    n = len(files)
    node_scores = np.array([[periods[f.stem][c] for c in classes] for f in files])
    node_pred, eval_pred = node_scores.argmax(axis=1), scores[:n].argmax(axis=1)
    manifests = [json.loads((out / b / "manifest.json").read_text())
                 for b in ("bundle", "bundle-head")]
    result = {
        "clips": n, "classes": classes, "hop_seconds": args.hop,
        "node_accuracy": float((node_pred == y[:n]).mean()),
        "evaluate_accuracy": float((eval_pred == y[:n]).mean()),
        "top1_agreement": float((node_pred == eval_pred).mean()),
        "disagreeing_clips": [ids[i] for i in np.flatnonzero(node_pred != eval_pred)],
        "max_probability_difference": float(np.abs(node_scores - scores[:n]).max()),
        "head_score": json.loads((out / "head" / "manifest.json").read_text())["score"],
        "bundle_model_files_identical": all(
            manifests[0]["files"][e["file"]]["sha256"] == manifests[1]["files"][e["file"]][
                "sha256"] for e in manifests[0]["variants"].values()),
    }
    (out / "agreement.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"ESC-10 folds 4-5, {n} clips, EdgeL3 SEA-64 int8 + logreg head (fit on folds 1-3):")
    print(f"  sea evaluate accuracy {result['evaluate_accuracy']:.4f}, sea-node accuracy "
          f"{result['node_accuracy']:.4f}, per-clip top-1 agreement "
          f"{result['top1_agreement']:.4f}, largest probability difference "
          f"{result['max_probability_difference']:.2e}")
    print(f"  head's cross-validated accuracy on folds 1-3: {result['head_score']['mean']:.3f}; "
          f"bundle model files identical: {result['bundle_model_files_identical']}")
    ok = abs(result["node_accuracy"] - result["evaluate_accuracy"]) <= 0.005
    print(f"  accuracy within 0.5 %: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
