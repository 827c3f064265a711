"""Classifier heads for the node: `sea head fit --model M --data STORE --out HEAD`.

Fits the downstream classifier `sea evaluate` scores (same protocols, classifiers, pooling and
embedding cache) on every selected clip, and writes HEAD/: head.npz (numpy weights, no pickle)
and manifest.json (classes, the embedding model's id, pooling, the node's aggregation period,
the protocol's cross-validated score, digests). `sea export MODEL --head HEAD` ships it in a
bundle (only for the model it was fitted on); `sea-node run` then writes the top classes per
window and per aggregation period (see docs/node.md, "Classifier heads").
"""

from __future__ import annotations

from sea.errors import printable
from sea.settings_cli import Command
from training.settings.evaluate import HeadFitSettings


def run_fit(settings: HeadFitSettings) -> int:
    from sea.errors import SeaError
    from sea.settings import SettingError
    from training.evaluate.head_fit import fit_head

    try:
        manifest = fit_head(settings)
    except SettingError:
        raise  # the CLI names the options
    except (ValueError, FileNotFoundError, KeyError) as exc:  # bad arguments, store or model
        raise SeaError(str(exc).strip("'\"")) from exc
    score = manifest["score"]
    print(f"{printable(settings.out)}: {manifest['classifier']} + {manifest['pooling']} head on "
          f"{manifest['model_id']}, {len(manifest['classes'])} classes; cross-validated "
          f"{score['metric']} {score['mean']:.3f} ± {score['std']:.3f} over "
          f"{len(score['folds'])} folds; node period {manifest['period_seconds']:g} s")
    return 0


COMMAND = {"fit": Command(HeadFitSettings, run_fit, help="fit a head on a labelled clip store")}
