"""Run one (classifier, pooling) method over a protocol's splits for one model's embeddings.

Each fold's test scores are saved as soon as the fold is done, under a directory named by a
hash of everything that determines them, so a rerun skips finished folds and never reuses
results made with other settings.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sea.manifest import atomic_save_npz
from sea.safe_npz import read_npz
from training.evaluate.classifiers import class_scores, make_classifier
from training.evaluate.embedding_cache import FrameEmbeddings
from training.evaluate.metrics import confusion, multilabel_scores, single_label_scores
from training.evaluate.pooling import aggregate, clip_frames, pooled_clips
from training.evaluate.protocols import EvalSet, splits

FOLD_ARRAYS = ("test", "scores", "info")  # what a fold cache file holds


@dataclass(frozen=True)
class Method:
    classifier: str
    pooling: str  # mean | max | mil
    mil_aggregate: str = "max"
    seed: int = 0
    max_iter: int = 500

    @property
    def key(self) -> str:
        pooling = f"mil-{self.mil_aggregate}" if self.pooling == "mil" else self.pooling
        return f"{self.classifier}+{pooling}"


@dataclass
class FoldOutput:
    name: str
    test: np.ndarray  # indices into the eval set
    scores: np.ndarray  # (n_test, C)
    info: dict  # sizes, fit seconds, convergence


def _settings_hash(method: Method, evalset: EvalSet) -> str:
    h = hashlib.sha256(json.dumps({**method.__dict__, "protocol": evalset.protocol.name,
                                   "classes": evalset.classes}, sort_keys=True).encode())
    h.update(evalset.positions.tobytes())
    h.update(np.asarray(evalset.y).tobytes())
    h.update("\n".join(evalset.folds).encode())
    return h.hexdigest()[:12]


def fit_classifier(method: Method, evalset: EvalSet, emb: FrameEmbeddings,
                   train: np.ndarray) -> tuple[object, dict]:
    """The method's classifier pipeline fitted on the clips `train` (indices into the eval
    set): pooled clip vectors, or every frame with its clip's label for MIL."""
    pipeline = make_classifier(method.classifier, evalset.protocol.multilabel, method.seed,
                               method.max_iter)
    y_train = evalset.y[train]
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method.pooling == "mil":
            X, owner = clip_frames(emb, evalset.positions[train])
            pipeline.fit(X, y_train[owner])
        else:
            pipeline.fit(pooled_clips(emb, evalset.positions[train], method.pooling), y_train)
    converged = not any("converge" in str(w.message).lower() for w in caught)
    return pipeline, {"n_train": int(len(train)), "converged": converged,
                      "fit_seconds": round(time.perf_counter() - started, 3)}


def predict_clips(method: Method, pipeline, evalset: EvalSet, emb: FrameEmbeddings,
                  test: np.ndarray) -> np.ndarray:
    """(n_test, C) clip scores of a fitted pipeline, pooled as the method pools."""
    n_classes = len(evalset.classes)
    if method.pooling == "mil":
        X_test, test_owner = clip_frames(emb, evalset.positions[test])
        return aggregate(class_scores(pipeline, X_test, n_classes), test_owner, len(test),
                         method.mil_aggregate)
    return class_scores(pipeline, pooled_clips(emb, evalset.positions[test], method.pooling),
                        n_classes)


def fit_and_score(method: Method, evalset: EvalSet, emb: FrameEmbeddings, train: np.ndarray,
                  test: np.ndarray) -> tuple[np.ndarray, dict]:
    pipeline, info = fit_classifier(method, evalset, emb, train)
    return predict_clips(method, pipeline, evalset, emb, test), {**info,
                                                                 "n_test": int(len(test))}


@contextmanager
def classifier_threads(threads: int | None):
    """Run the classifier fits on `threads` BLAS/OpenMP threads (None: the libraries' default).
    The thread count decides how BLAS splits its sums, so a fixed count makes the scores repeat
    to the bit on any machine of the same kind, whatever its core count."""
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def run_folds(method: Method, evalset: EvalSet, emb: FrameEmbeddings, work_dir: Path,
              progress: bool = True) -> list[FoldOutput]:
    """Out-of-fold scores for every split, computing only folds not already on disk."""
    directory = Path(work_dir) / f"{method.key}-{_settings_hash(method, evalset)}"
    outputs = []
    for name, train, test in tqdm(splits(evalset), desc=f"  {method.key}", unit="fold",
                                  disable=not progress, leave=False):
        path = directory / f"fold-{name}.npz"
        if path.is_file():
            saved = read_npz(path, "evaluation fold cache .npz", required=FOLD_ARRAYS,
                             max_bytes=None)
            outputs.append(FoldOutput(name, saved["test"], saved["scores"],
                                      json.loads(str(saved["info"]))))
            continue
        scores, info = fit_and_score(method, evalset, emb, train, test)
        atomic_save_npz(path, test=test, scores=scores, info=np.array(json.dumps(info)))
        outputs.append(FoldOutput(name, test, scores, info))
    return outputs


def pooled_out_of_fold(evalset: EvalSet,
                       outputs: list[FoldOutput]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of every clip's out-of-fold prediction, all folds together."""
    test = np.concatenate([o.test for o in outputs])
    return evalset.y[test], np.concatenate([o.scores for o in outputs])


def summarize(method: Method, evalset: EvalSet, outputs: list[FoldOutput]) -> dict:
    """Per-fold and mean +- std scores, per-class scores and (single-label) the confusion
    matrix of all out-of-fold predictions."""
    classes, multilabel = evalset.classes, evalset.protocol.multilabel
    folds = []
    for out in outputs:
        y = evalset.y[out.test]
        s = (multilabel_scores(y, out.scores) if multilabel
             else single_label_scores(y, out.scores, len(classes)))
        per_class = {classes[c]: v for c, v in s.pop("per_class").items()}
        folds.append({"fold": out.name, **s, "per_class": per_class, **out.info})
    metric_names = ["micro_auprc", "macro_auprc"] if multilabel else ["accuracy",
                                                                      "balanced_accuracy"]
    result = {
        "classifier": method.classifier, "pooling": method.pooling,
        "mil_aggregate": method.mil_aggregate if method.pooling == "mil" else None,
        "seed": method.seed, "metric": evalset.protocol.metric, "folds": folds,
        "mean": {m: float(np.mean([f[m] for f in folds])) for m in metric_names},
        "std": {m: float(np.std([f[m] for f in folds])) for m in metric_names},
    }
    if multilabel:
        # what the report's PR curves show: one curve over every out-of-fold prediction
        pooled = multilabel_scores(*pooled_out_of_fold(evalset, outputs))
        result["pooled"] = {m: pooled[m] for m in metric_names}
        result["per_class"] = {c: float(np.mean([f["per_class"][c] for f in folds
                                                 if c in f["per_class"]]))
                               for c in classes if any(c in f["per_class"] for f in folds)}
    else:
        test = np.concatenate([o.test for o in outputs])
        pred = np.concatenate([o.scores.argmax(axis=1) for o in outputs])
        pooled = single_label_scores(evalset.y[test], np.eye(len(classes))[pred], len(classes))
        result["per_class"] = {classes[c]: v for c, v in pooled["per_class"].items()}
        result["confusion"] = confusion(evalset.y[test], pred, len(classes)).tolist()
    return result
