"""Finding audio files among command-line inputs (files or directories, recursive)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

# Extensions libsndfile decodes (soundfile.available_formats) plus common aliases.
AUDIO_EXTENSIONS = frozenset(
    {"." + fmt.lower() for fmt in sf.available_formats()} | {".aif", ".oga", ".opus", ".mp3"}
)


def find_audio_files(inputs: list[str | Path]) -> tuple[list[Path], list[Path]]:
    """(audio files in sorted order, inputs that do not exist). Explicit files are always
    kept, whatever their extension, so that a bad file is reported instead of ignored."""
    files: list[Path] = []
    missing: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*")
                            if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        elif item.is_file():
            files.append(item)
        else:
            missing.append(item)
    unique = list(dict.fromkeys(files))
    return unique, missing
