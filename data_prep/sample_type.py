"""`sea prepare`'s audio_dtype: which sample type a new clip store gets.

int16 halves the store's disk and I/O (at 48 kHz: 96 KB instead of 192 KB per second) and loses
nothing a 16-bit source holds beyond the requantization after resampling (under 1 LSB, about
-96 dBFS). `auto` picks int16 when every readable input is 16-bit PCM or narrower, float32
otherwise (24/32-bit or float files, compressed formats, synthesized mixes); an existing store
keeps its type.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.settings.prepare import AUDIO_DTYPES
from data_prep.tasks import ClipTask
from sea.audio import AudioError, read_info
from sea.settings import SettingError
from sea.store import existing_audio_dtype

PCM16_OR_NARROWER = {"PCM_16", "PCM_S8", "PCM_U8", "ULAW", "ALAW"}


def _fits_int16(task: ClipTask) -> bool:
    if task.path is None:  # a synthesized mix is float
        return False
    try:
        return read_info(task.path).subtype in PCM16_OR_NARROWER
    except AudioError:  # unreadable: it will be skipped, it does not decide the type
        return True


def choose_audio_dtype(requested: str, tasks: list[ClipTask], out: str | Path) -> str | None:
    """The StoreWriter `audio_dtype` for `requested` (None: keep the existing store's)."""
    if requested not in AUDIO_DTYPES:
        raise SettingError("audio_dtype", f"{{audio_dtype}} {requested!r} not in {AUDIO_DTYPES}")
    if requested != "auto":
        return requested
    if existing_audio_dtype(out) is not None:
        return None
    return "int16" if tasks and all(map(_fits_int16, tasks)) else "float32"
