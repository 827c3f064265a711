"""`sea head fit`: the classifier `sea evaluate` scores, fitted on every selected clip and
written as a head artifact (sea.head) with the protocol's cross-validated score."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sea.head import HEAD_KIND, write_head
from sea.models import load_embedder, model_id, parse_model, source_model_id
from sea.output import claim_output
from sea.store import ClipStore
from training.evaluate.embedding_cache import cache_dir, load_or_compute, store_digest
from training.evaluate.heads import head_arrays, head_difference
from training.evaluate.pipeline import model_paths
from training.evaluate.pooling import clip_frames, pooled_clips
from training.evaluate.protocols import PROTOCOLS, EvalSet, select
from training.evaluate.runner import (Method, classifier_threads, fit_classifier, run_folds,
                                     summarize)
from training.settings.evaluate import HeadFitSettings

log = logging.getLogger(__name__)


def median_clip_seconds(store: ClipStore, evalset: EvalSet, hop_seconds: float) -> float:
    """The clips' median length, a whole number of hops: the span one pooled vector covers."""
    lengths = [store.records[p].num_samples / store.sample_rate for p in evalset.positions]
    return float(max(1, round(np.median(lengths) / hop_seconds)) * hop_seconds)


def _training_inputs(method: Method, evalset: EvalSet, emb, rows: np.ndarray) -> np.ndarray:
    """What the final classifier was fitted on: pooled clips, or frames for MIL."""
    if method.pooling == "mil":
        return clip_frames(emb, evalset.positions[rows])[0]
    return pooled_clips(emb, evalset.positions[rows], method.pooling)


def fit_head(cfg: HeadFitSettings) -> dict:
    """Cross-validate the method with the protocol, fit it on every selected clip, write the
    head to `cfg.out`; returns the head's manifest."""
    store = ClipStore(cfg.data)
    evalset = select(store, PROTOCOLS[cfg.protocol], cfg.datasets, cfg.folds)
    spec = parse_model(cfg.model, cfg.weights)
    method = Method(cfg.classifier, cfg.pooling, cfg.mil_aggregate, cfg.seed, cfg.max_iter)
    scratch = Path(tempfile.mkdtemp(prefix="sea-head-"))
    try:
        with claim_output(cfg.out, HEAD_KIND, inputs=(cfg.data, *model_paths([cfg.model])),
                          overwrite=cfg.overwrite, resume=False):
            key = model_id(spec)
            directory = cache_dir(cfg.cache or scratch / "cache", key, store, cfg.hop)
            emb = load_or_compute(store, lambda: load_embedder(spec, threads=cfg.threads),
                                  directory, cfg.hop, progress=cfg.progress)
            with classifier_threads(cfg.threads):
                folds = run_folds(method, evalset, emb, scratch / "runs", progress=cfg.progress)
                everything = np.arange(len(evalset))
                pipeline, info = fit_classifier(method, evalset, emb, everything)
            summary = summarize(method, evalset, folds)
            arrays = head_arrays(pipeline, evalset.classes, evalset.protocol.multilabel)
            difference = head_difference(arrays, pipeline,
                                         _training_inputs(method, evalset, emb, everything))
            metric = evalset.protocol.metric
            score = {"metric": metric, "mean": summary["mean"][metric],
                     "std": summary["std"][metric],
                     "folds": {f["fold"]: f[metric] for f in summary["folds"]}}
            period = cfg.period or median_clip_seconds(store, evalset, cfg.hop)
            return write_head(
                cfg.out, arrays,
                {"protocol": cfg.protocol, "datasets": list(cfg.datasets),
                 "folds": list(cfg.folds), "seed": cfg.seed, "max_iter": cfg.max_iter},
                model_id=source_model_id(spec),
                embedder={"spec": spec.text, "id": key, "kind": spec.kind.value,
                          "dim": emb.model_info.get("dim")},
                classes=evalset.classes, multilabel=evalset.protocol.multilabel,
                activation=str(arrays["activation"]), classifier=cfg.classifier,
                pooling=cfg.pooling, mil_aggregate=cfg.mil_aggregate,
                period_seconds=period, hop_seconds=cfg.hop, score=score,
                fit={**info, "clips": len(evalset), "max_difference_to_sklearn": difference},
                store={"path": str(store.path), "content_sha256": store_digest(store)},
                notes=evalset.notes, settings=cfg.record())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
