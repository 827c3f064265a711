"""Fit a dimensionality reducer on sampled teacher embeddings and make the student targets.

Samples --n-fit windows of the embedding store (grouped by sensor-day when the clip store
records sensors/times, else by clip) with one of: random, loudness (louder windows likelier),
dpp-div (k-DPP diversity), dpp (loudness quality x diversity); fits pca, incremental-pca, umap,
random-projection or identity on them; then transforms every embedding into `targets.npy`.
PCA-type reducers are stored as mean + components, applied with numpy alone
(`sea.reducer.load_reducer`).
"""

from __future__ import annotations

import logging

from sea.settings_cli import Command
from training.settings.reduce import ReduceSettings

log = logging.getLogger("sea.reduce")


def run(settings: ReduceSettings) -> int:
    from sea.settings import SettingError
    from training.reduce import reduce_embeddings

    try:
        fields = reduce_embeddings(settings)
    except SettingError:
        raise  # the CLI names the options
    except (FileNotFoundError, ValueError, ImportError) as exc:
        log.error("%s", exc)
        return 2
    log.info("%s: %s reducer, %d targets x %d dims", settings.out, settings.reducer,
             fields["targets"]["rows"], fields["targets"]["dim"])
    return 0


COMMAND = Command(ReduceSettings, run)
