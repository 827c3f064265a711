"""Distillation ablation on real clips the students never saw: which objective beyond MSE helps?

    nice -n 10 python benchmarks/kd_ablation.py [--out DIR] [--epochs 15] [--seeds 0,1,2]
        [--methods mse,cosine,...,best,alp+scaffold] [--students custom:16,32,32,64+student3]
        [--threads N]

Protocol (the defaults; every option shrinks or changes it, and DIR/results.json records it):
- teacher: the published EdgeL3 SEA-64 (../shared/fixtures), identity targets (64-d);
- distillation data: urban-eval UrbanSound8K fold 1 + ESC-10 folds 1-3 + `--synth` synthesized
  scenes; teacher embeddings (and per-block features) once, at the fine hop `--fine-hop`;
  students train on the `--base-hop` grid (shift draws the fine windows in between), with a
  seeded 10 % of recordings held out for early stopping;
- evaluation: ESC-10 folds 4 and 5, clips no student saw: fidelity per window at `--eval-hop`
  (pooled R^2 and mean cosine to the teacher), and a downstream logistic regression on
  clip-mean embeddings trained on one fold and tested on the other (both ways): accuracy, and
  agreement of its predictions with the same classifier on the teacher's embeddings;
- methods: each option of `sea distill` alone (mse is the baseline), then `best`: per axis
  (loss, intermediate, censor, augment) the option whose mean accuracy beat mse's most,
  combined (when that is one method alone, or none beat mse, its runs are reused, not
  repeated); `alp+scaffold`, a combination beside `best`, runs only when named in --methods;
  seeds: mean +- std; every run has the same epochs budget and patience.
Each run is a `sea distill` into DIR/runs/STUDENT/METHOD/seedS; finished runs are skipped and
interrupted ones resumed when the script is re-run. DIR/results.md holds the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from sea.cli import main as sea

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# Each method is one `sea distill` option set; `best` is composed from the winners.
METHODS: dict[str, list[str]] = {
    "mse": [],
    "cosine": ["--loss", "cosine"],
    "relational": ["--loss", "relational"],
    "mse+relational": ["--loss", "mse+relational"],
    "alp": ["--intermediate", "alp"],
    "scaffold": ["--censor", "scaffold"],
    "shift": ["--augment", "shift"],
    "shift+gain": ["--augment", "shift+gain"],
}
# Combinations beyond the composed `best`, run only when named in --methods.
COMBINATIONS: dict[str, list[str]] = {
    "alp+scaffold": ["--intermediate", "alp", "--censor", "scaffold"],
}
# Options of one axis exclude each other; `best` takes the best of each axis that beat mse.
AXES = {"loss": ("cosine", "relational", "mse+relational"), "intermediate": ("alp",),
        "censor": ("scaffold",), "augment": ("shift", "shift+gain")}


def write_subset(data: Path, out: Path, keep) -> Path:
    """A urban-eval folder (metadata subset, its audio files copied: `sea prepare` refuses
    links leading out of a source's root) holding the rows `keep` accepts."""
    out.mkdir(parents=True, exist_ok=True)
    with open(data / "metadata.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if keep(r)]
        fields = reader.fieldnames
    for row in rows:
        target = out / row["file"]
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data / row["file"], target)
    with open(out / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def prepare_data(args, out: Path) -> None:
    data = args.shared / "data" / "urban-eval"
    weights = args.shared / "fixtures" / "edgel3_sea_ust_audio_emb_64.h5"
    for path in (data, weights):
        if not path.exists():
            raise SystemExit(f"{path} is missing")
    train = write_subset(data, out / "data" / "train", lambda r: r["dataset"] == "UrbanSound8K"
                         or (r["dataset"] == "ESC-10" and r["fold"] in ("1", "2", "3")))
    test = write_subset(data, out / "data" / "test",
                        lambda r: r["dataset"] == "ESC-10" and r["fold"] in ("4", "5"))
    threads = ["--threads", str(args.threads)] if args.threads else []
    steps = [
        (out / "train-store", ["prepare", f"urban-eval:{train}", f"synth:{args.synth}:0",
                               "--out", str(out / "train-store"), "--sample-rate", "22050",
                               "--no-progress"]),
        (out / "test-store", ["prepare", f"urban-eval:{test}", "--out", str(out / "test-store"),
                              "--sample-rate", "22050", "--no-progress"]),
        (out / "emb", ["teacher-embed", str(out / "train-store"), "--teacher", "edgel3-sea-64",
                       "--weights", str(weights), "--out", str(out / "emb"),
                       "--hop", str(args.fine_hop), "--block-features", *threads]),
        (out / "test-emb", ["teacher-embed", str(out / "test-store"), "--teacher",
                            "edgel3-sea-64", "--weights", str(weights), "--out",
                            str(out / "test-emb"), "--hop", str(args.eval_hop or args.base_hop),
                            *threads]),
        (out / "red", ["reduce", str(out / "emb"), "--reducer", "identity", "--out",
                       str(out / "red")]),
    ]
    for done, argv in steps:
        if (done / "manifest.json").is_file() and argv[0] in ("prepare", "reduce"):
            continue  # teacher-embed resumes (and skips) by itself
        if sea(argv) != 0:
            raise SystemExit(f"`sea {' '.join(argv)}` failed")


def student_args(spec: str) -> tuple[str, list[str]]:
    """'custom:16,32,32,64' or a student name -> (label, `sea distill` options)."""
    if spec.startswith("custom:"):
        filters = spec.split(":", 1)[1]
        return f"custom-{filters.replace(',', '-')}", ["--student", "custom", "--filters", filters]
    return spec, ["--student", spec]


class Evaluator:
    """Fidelity and downstream figures of any model on the never-seen ESC-10 folds 4-5."""

    def __init__(self, out: Path, threads: int | None) -> None:
        from sea.embedding_store import EmbeddingStore
        from sea.store import ClipStore
        from training.teacher_embed import set_cpu_threads

        import torch

        set_cpu_threads(torch.device("cpu"), threads)
        self.store = ClipStore(out / "test-store")
        teacher = EmbeddingStore(out / "test-emb")
        self.index = self.store.window_index(**teacher.window_rules)
        self.teacher = np.asarray(teacher.all(), np.float32)
        self.labels = np.array([r.labels[0] for r in self.store.records])
        self.folds = np.array([str(r.fold) for r in self.store.records])
        self.teacher_pred = self._predictions(self.teacher)
        self._windows: dict[int, np.ndarray] = {}  # test windows per student rate, read once

    def _clip_means(self, windows: np.ndarray) -> np.ndarray:
        counts = np.bincount(self.index.clip_pos, minlength=len(self.store))
        sums = np.zeros((len(self.store), windows.shape[1]))
        np.add.at(sums, self.index.clip_pos, windows)
        return sums / counts[:, None]

    def _predictions(self, windows: np.ndarray) -> np.ndarray:
        """Each clip's predicted label from a classifier trained on the other fold."""
        from training.evaluate.classifiers import make_classifier

        X = self._clip_means(windows)
        pred = np.empty(len(X), dtype=self.labels.dtype)
        for test_fold in ("4", "5"):
            train, test = self.folds != test_fold, self.folds == test_fold
            clf = make_classifier("logreg", multilabel=False, seed=0, max_iter=2000)
            clf.fit(X[train], self.labels[train])
            pred[test] = clf.predict(X[test])
        return pred

    def accuracy(self, pred: np.ndarray) -> float:
        return float(np.mean([np.mean(pred[self.folds == f] == self.labels[self.folds == f])
                              for f in ("4", "5")]))

    def student(self, checkpoint: Path) -> dict[str, float]:
        from training.checkpoint import build_model
        from training.embedder import Embedder
        from training.windows import read_rows_at_rate

        model = build_model(str(checkpoint))
        embedder = Embedder(model, batch_size=256, device="cpu")
        rate = model.cfg.frontend.sample_rate
        if rate not in self._windows:
            self._windows[rate] = read_rows_at_rate(self.store, self.index, 0, len(self.index),
                                                    rate)
        emb = embedder.embed_windows(self._windows[rate]).astype(np.float64)
        t = self.teacher.astype(np.float64)
        r2 = 1 - ((emb - t) ** 2).sum() / ((t - t.mean(0)) ** 2).sum()
        norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(t, axis=1)
        cosine = np.where(norms > 0, (emb * t).sum(1) / np.maximum(norms, 1e-12), 0.0)
        pred = self._predictions(emb)
        return {"r2": float(r2), "cosine": float(cosine.mean()), "accuracy": self.accuracy(pred),
                "agreement": float(np.mean(pred == self.teacher_pred))}


def run_one(args, out: Path, student: str, student_opts: list[str], method: str,
            options: list[str], seed: int, evaluator: Evaluator) -> dict:
    run = out / "runs" / student / method / f"seed{seed}"
    result_file = run / "result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    argv = ["distill", "--store", str(out / "train-store"), "--targets", str(out / "red"),
            *student_opts, *options, "--out", str(run / "student"), "--epochs", str(args.epochs),
            "--patience", str(args.patience), "--lr", str(args.lr), "--seed", str(seed),
            "--base-hop", str(args.base_hop), "--cache-dir", str(out / "cache")]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if (run / "student" / "history.csv").is_file():
        argv.append("--resume")
    start = time.perf_counter()
    if sea(argv) != 0:
        raise SystemExit(f"`sea {' '.join(argv)}` failed")
    from sea.manifest import read_manifest

    result = {"student": student, "method": method, "seed": seed, "options": options,
              "best_epoch": read_manifest(run / "student")["best_epoch"],
              "train_seconds": round(time.perf_counter() - start, 1),
              **evaluator.student(run / "student")}
    result_file.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    return result


def best_options(results: list[dict], student: str) -> list[str]:
    """Per axis, the single method with the highest mean accuracy above mse's, combined."""
    def mean_acc(method: str) -> float | None:
        accs = [r["accuracy"] for r in results if r["student"] == student and r["method"] == method]
        return float(np.mean(accs)) if accs else None

    baseline = mean_acc("mse")
    chosen: list[str] = []
    for methods in AXES.values():
        scored = [(mean_acc(m), m) for m in methods if mean_acc(m) is not None]
        winners = [(acc, m) for acc, m in scored if baseline is not None and acc > baseline]
        if winners:
            chosen += METHODS[max(winners)[1]]
    return chosen


def summarise(results: list[dict], teacher_accuracy: float) -> list[dict]:
    rows = []
    for key in dict.fromkeys((r["student"], r["method"]) for r in results):
        group = [r for r in results if (r["student"], r["method"]) == key]
        row = {"student": key[0], "method": key[1], "seeds": len(group),
               "options": " ".join(group[0]["options"]) or "(mse)"}
        for metric in ("accuracy", "agreement", "r2", "cosine"):
            values = np.array([r[metric] for r in group])
            row[metric] = (float(values.mean()), float(values.std()))
        row["gap_to_teacher"] = teacher_accuracy - row["accuracy"][0]
        rows.append(row)
    return rows


def markdown(rows: list[dict], teacher_accuracy: float) -> str:
    lines = [f"Teacher (EdgeL3 SEA-64) ESC-10 folds 4-5 accuracy: {teacher_accuracy:.3f}", "",
             "| student | method | seeds | accuracy | agreement | R^2 | cosine |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[m][0]:.3f} ± {r[m][1]:.3f}" for m in ("accuracy", "agreement", "r2",
                                                           "cosine")]
        method = r["method"] if r["method"] != "best" else f"best = {r['options']}"
        lines.append(f"| {r['student']} | {method} | {r['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/kd-ablation"))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--students", default="custom:16,32,32,64+student3",
                        help="students separated by '+': custom:F,F,F,F or a student name")
    parser.add_argument("--methods", default=",".join([*METHODS, "best"]))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--lr", default="1e-3")
    parser.add_argument("--fine-hop", type=float, default=0.25,
                        help="hop of the teacher store, s (shift draws windows at this hop)")
    parser.add_argument("--base-hop", type=float, default=0.5,
                        help="hop of the training windows, s (a multiple of --fine-hop)")
    parser.add_argument("--eval-hop", type=float,
                        help="hop of the evaluation windows, s (default: --base-hop)")
    parser.add_argument("--synth", type=int, default=40, help="synthesized 10-s scenes to add")
    parser.add_argument("--threads", type=int, help="CPU threads (default: every core)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    known = {**METHODS, **COMBINATIONS}
    unknown = [m for m in methods if m not in known and m != "best"]
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {', '.join([*known, 'best'])}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = args.out
    prepare_data(args, out)
    evaluator = Evaluator(out, args.threads)
    teacher_accuracy = evaluator.accuracy(evaluator.teacher_pred)
    results: list[dict] = []
    for spec in args.students.replace("+", " ").split():
        student, student_opts = student_args(spec)
        for method in methods:
            options = (best_options(results, student) if method == "best" else known[method])
            same = [m for m in methods if m != "best" and known[m] == options]
            if method == "best" and same:  # a single method won (or none: mse): no new runs
                results += [{**r, "method": "best", "same_as": same[0]} for r in results
                            if r["student"] == student and r["method"] == same[0]]
                continue
            for seed in seeds:
                results.append(run_one(args, out, student, student_opts, method, options, seed,
                                       evaluator))
    rows = summarise(results, teacher_accuracy)
    table = markdown(rows, teacher_accuracy)
    report = {"protocol": {k: (str(v) if isinstance(v, Path) else v)
                           for k, v in vars(args).items()},
              "teacher_accuracy": teacher_accuracy, "summary": rows, "runs": results}
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
