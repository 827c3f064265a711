"""Reproduce the evaluation figure: the published EdgeL3 SEA-64 model on urban-eval's ESC-10
part (400 real clips, its 5 original folds), logistic regression and an MLP, fold-wise accuracy.

    python benchmarks/eval_urban_eval_edgel3.py [--out DIR] [--hop 0.1] [--threads 1]

Builds the clip store with `sea prepare` (once), runs `sea evaluate` (embeddings cached under
DIR, finished folds kept), and prints the fold-wise table; the full report is DIR/report/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sea.cli import main as sea

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/urban-eval-edgel3"))
    parser.add_argument("--hop", type=float, default=0.1, help="embedding hop in seconds")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: single-core latency, as on a node)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    data, weights = args.shared / "data" / "urban-eval", args.shared / "fixtures" / \
        "edgel3_sea_ust_audio_emb_64.h5"
    store, report = args.out / "store", args.out / "report"
    if not (store / "manifest.json").is_file() or \
            json.loads((store / "manifest.json").read_text()).get("status") != "complete":
        # 22050 Hz is the set's own rate: the model's 8 kHz resampling is then the only one.
        if sea(["prepare", f"urban-eval:{data}", "--out", str(store), "--sample-rate", "22050"]):
            return 1
    code = sea(["evaluate", "--model", f"edgel3-sea-64={weights}", "--data", str(store),
                "--dataset", "ESC-10", "--protocol", "esc50", "--out", str(report),
                "--classifier", "logreg", "--classifier", "mlp", "--hop", str(args.hop),
                "--threads", str(args.threads)])
    if code:
        return code
    results = json.loads((report / "results.json").read_text())
    for model in results["models"]:
        for key, res in model.get("methods", {}).items():
            folds = " ".join(f"{f['fold']}:{f['accuracy']:.3f}" for f in res["folds"])
            print(f"{model['name']:14s} {key:12s} accuracy {res['mean']['accuracy']:.3f} "
                  f"± {res['std']['accuracy']:.3f}  folds {folds}")
    print(f"report: {report / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
