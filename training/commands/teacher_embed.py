"""Embed every window of a clip store with a teacher, into an embedding store.

Rows of the output follow `ClipStore.window_index(1.0, --hop, --center)`. Output is written in
shards; re-running the same command after an interruption computes only the missing shards.
Runs on CUDA when present, else on every CPU core (or --threads: the same count gives the same
embeddings to the bit on machines of one kind). `--teacher auto` picks OpenL3 mel256-env,
then EdgeL3 SEA-512, then SEA-64 (the first whose weights are on this machine, SEA-64 being
shipped with sea; auto never
downloads); without any it stops and says what to do. A seeded random-weight network, only
good for testing the pipeline, is used only when named: `--teacher random:CONFIG`. --block-features
also stores each teacher block's mean-pooled activations in EMB/blocks (same rows).
"""

from __future__ import annotations

import logging

from sea.settings_cli import Command
from training.settings.teacher_embed import TeacherEmbedSettings

log = logging.getLogger("sea.teacher_embed")


def run(settings: TeacherEmbedSettings) -> int:
    from sea.settings import SettingError
    from sea.weights import WeightsUnavailable
    from training.teacher_embed import embed_store

    try:
        manifest = embed_store(settings)
    except SettingError:
        raise  # the CLI names the options
    except (FileNotFoundError, KeyError, ValueError, WeightsUnavailable) as exc:
        log.error("%s", exc.args[0] if isinstance(exc, KeyError) else exc)
        return 2
    cfg = manifest["config"]
    log.info("%s: %d windows x %d dims (%s) from teacher %s", settings.out, cfg["num_rows"],
             cfg["dim"], cfg["dtype"], manifest["teacher"]["name"])
    return 0


COMMAND = Command(TeacherEmbedSettings, run)
