"""`sea evaluate` end to end: select clips, embed them once per model (cached), run every
classifier x pooling over the protocol's splits, then plot and write the report."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from sea.manifest import write_manifest
from sea.models import ModelSpec, describe, load_embedder, model_id, parse_model
from sea.output import claim_output
from sea.store import ClipStore
from training.evaluate import plots
from training.evaluate.embedding_cache import (FrameEmbeddings, cache_dir, load_or_compute,
                                               store_digest)
from training.evaluate.latency import cached_latency_ms
from training.evaluate.pooling import pooled_clips
from training.evaluate.protocols import PROTOCOLS, EvalSet, fold_order, select
from training.evaluate.report import metric_label, write_report
from training.evaluate.runner import (FoldOutput, Method, classifier_threads,
                                     pooled_out_of_fold, run_folds, summarize)
from training.settings.evaluate import EvaluateSettings

log = logging.getLogger(__name__)
REPORT_KIND = "evaluation-report"
# What an evaluation writes in its --out besides the manifest (report.py, the plots, the caches).
REPORT_LAYOUT = ("results.json", "report.json", "report.md", "index.html", "runs", "plots", "cache")


def evaluation_methods(settings: EvaluateSettings) -> list[Method]:
    """Every classifier x pooling to run (default pooling: mil for sonyc-ust, mean otherwise)."""
    poolings = settings.poolings or (("mil",) if settings.protocol == "sonyc-ust" else ("mean",))
    return [Method(c, p, settings.mil_aggregate, settings.seed, settings.max_iter)
            for c in settings.classifiers for p in poolings]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _model_figures(cfg: EvaluateSettings, evalset: EvalSet, emb: FrameEmbeddings, name: str,
                   key: str, outputs: dict[str, list[FoldOutput]], results: dict) -> dict:
    """Embedding map for the model; confusion matrix or PR curves for each method."""
    rel = Path("plots") / _slug(key)
    figures = {}
    y = evalset.y
    clips = pooled_clips(emb, evalset.positions, "mean")
    map_title = f"{name}: clip embeddings (mean over frames), PCA"
    if y.ndim == 1:
        plots.embedding_map(clips, [evalset.classes[i] for i in y], map_title,
                            cfg.out / rel / "pca.png")
    else:  # multi-label: one panel per class
        plots.embedding_map_multilabel(clips, y, evalset.classes, map_title,
                                       cfg.out / rel / "pca.png")
    figures["2-D PCA map of clip embeddings"] = str(rel / "pca.png")
    for method_key, folds in outputs.items():
        path = rel / f"{_slug(method_key)}.png"
        if evalset.protocol.multilabel:
            # pooled over all folds: the micro AP in the legend is the table's pooled figure
            plots.pr_curves(*pooled_out_of_fold(evalset, folds), evalset.classes,
                            f"{name} {method_key}: PR curves, out-of-fold predictions of "
                            f"{len(folds)} folds pooled", cfg.out / path)
            figures[f"PR curves {method_key} (out-of-fold, pooled)"] = str(path)
        else:
            plots.confusion_matrix(np.array(results[method_key]["confusion"]), evalset.classes,
                                   f"{name} {method_key}: out-of-fold confusion", cfg.out / path)
            figures[f"confusion matrix {method_key}"] = str(path)
    return figures


def _evaluate_model(cfg: EvaluateSettings, spec: ModelSpec, store: ClipStore,
                    evalset: EvalSet) -> dict:
    key = model_id(spec)
    directory = cache_dir(cfg.cache or cfg.out / "cache", key, store, cfg.hop)
    made = []  # the embedder, built once: for a cache miss and for the latency measurement

    def embedder():
        if not made:
            made.append(load_embedder(spec, cfg.batch_size, cfg.device, cfg.threads))
        return made[0]

    emb = load_or_compute(store, embedder, directory, cfg.hop, progress=cfg.progress,
                          ray=cfg.ray_options())
    info = emb.model_info
    entry = {"spec": spec.text, "id": key, "kind": spec.kind.value, "name": spec.name,
             "description": describe(spec),
             "dim": info.get("dim"), "num_params": info.get("num_params"),
             "size_bytes": info.get("size_bytes"), "sample_rate": info.get("sample_rate"),
             "seconds_per_window": emb.seconds_per_window, "embedding_cache": str(directory),
             "network_latency_ms": cached_latency_ms(directory, embedder),
             "methods": {}}
    outputs = {}
    for method in evaluation_methods(cfg):
        with classifier_threads(cfg.threads):
            outputs[method.key] = run_folds(method, evalset, emb, cfg.out / "runs" / key,
                                            progress=cfg.progress)
        entry["methods"][method.key] = summarize(method, evalset, outputs[method.key])
        mean, std = (entry["methods"][method.key][s][evalset.protocol.metric]
                     for s in ("mean", "std"))
        log.info("%s %s: %s %.3f +- %.3f", spec.name, method.key, evalset.protocol.metric,
                 mean, std)
    entry["figures"] = _model_figures(cfg, evalset, emb, f"{spec.name} ({entry['description']})",
                                      key, outputs, entry["methods"])
    return entry


def run_evaluation(cfg: EvaluateSettings) -> dict:
    """Evaluate every model; a model that fails is reported with its reason, not fatal.

    Raises ProtocolError when the store cannot be evaluated with the protocol at all."""
    store = ClipStore(cfg.data)
    protocol = PROTOCOLS[cfg.protocol]
    evalset = select(store, protocol, cfg.datasets)
    with claim_output(cfg.out, REPORT_KIND, inputs=(cfg.data, *model_paths(cfg.models)),
                      overwrite=cfg.overwrite, layout=REPORT_LAYOUT):
        results = _evaluate(cfg, store, protocol, evalset)
        write_manifest(cfg.out, REPORT_KIND, {"protocol": cfg.protocol, "hop_seconds":
                                              cfg.hop, "models": list(cfg.models)},
                       store=results["store"], results="results.json",
                       settings=cfg.record())
    return results


def model_paths(models: Sequence[str]) -> list[Path]:
    """The files and directories named by --model specs (NAME, PATH or CONFIG=PATH)."""
    paths = [Path(text.partition("=")[2] or text) for text in models]
    return [p for p in paths if p.exists()]


def _evaluate(cfg: EvaluateSettings, store: ClipStore, protocol, evalset: EvalSet) -> dict:
    results = {
        "protocol": {"name": protocol.name, "description": protocol.description,
                     "metric": protocol.metric, "multilabel": protocol.multilabel},
        "store": {"path": str(store.path), "content_sha256": store_digest(store),
                  "clips": len(evalset),
                  "datasets": sorted({store.records[p].dataset for p in evalset.positions}),
                  "classes": evalset.classes, "folds": sorted(set(evalset.folds), key=fold_order)},
        "hop_seconds": cfg.hop, "notes": evalset.notes,
        "methods": [m.__dict__ | {"key": m.key} for m in evaluation_methods(cfg)], "models": [],
    }
    for text in tqdm(cfg.models, desc="models", unit="model", disable=not cfg.progress):
        try:
            spec = parse_model(text, cfg.weights)
            results["models"].append(_evaluate_model(cfg, spec, store, evalset))
        except Exception as exc:  # one broken model must not sink the others
            log.error("model %s skipped: %s", text, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            results["models"].append({"spec": text, "error": f"{type(exc).__name__}: {exc}"})
    points = [(f"{m['name']} ({m['description']}) {k}", m["size_bytes"], s["mean"][protocol.metric],
               s["std"][protocol.metric])
              for m in results["models"] if m.get("size_bytes")
              for k, s in m.get("methods", {}).items()]
    if points:
        plots.score_vs_size(points, metric_label(protocol.metric),
                            cfg.out / "plots" / "score_vs_size.png")
        results["figures"] = {"score vs model size": "plots/score_vs_size.png"}
    write_report(cfg.out, results)
    return results
