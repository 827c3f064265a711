"""Evaluate featurizers the way users judge them: small classifiers (logistic regression, MLP,
linear SVM) on their clip embeddings, with each dataset's own folds (us8k: 10-fold CV, esc50:
5-fold CV, folds: any fold column, folds-multilabel: the same with multi-label AUPRC,
sonyc-ust: train -> validate/test, multi-label AUPRC).
Embeddings are cached per (model, store, hop) and finished folds are kept, so reruns resume.
Writes results.json, report.md, report.json, plots/ and index.html to --out, and prints the score
table (mean ± std over folds, params, size, per-window network latency) at the end."""

from __future__ import annotations

import logging

from sea.settings_cli import Command
from training.settings.evaluate import EvaluateSettings

log = logging.getLogger(__name__)


def run(settings: EvaluateSettings) -> int:
    from sea.errors import SeaError
    from sea.settings import SettingError
    from sea.models import parse_model
    from training.evaluate.pipeline import run_evaluation

    try:
        for text in settings.models:  # a missing path is a bad argument, found before any work
            parse_model(text, settings.weights)
        results = run_evaluation(settings)
    except SettingError:
        raise  # the CLI names the options
    except (ValueError, FileNotFoundError) as exc:  # bad arguments or store: a message, no trace
        raise SeaError(str(exc)) from exc
    from training.evaluate.report import summary_text

    print(summary_text(results), flush=True)
    ok = [m for m in results["models"] if "error" not in m]
    log.info("report: %s (%d of %d models evaluated)", settings.out / "index.html", len(ok),
             len(results["models"]))
    return 0 if len(ok) == len(results["models"]) else 1  # README: 1 = some inputs failed


COMMAND = Command(EvaluateSettings, run)
