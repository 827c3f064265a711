"""Build a clip store from recordings, public datasets and synthesized soundscapes.

SOURCE is NAME:ARG, one of: folder:PATH (your recordings, recursive), urbansound8k:PATH,
esc50:PATH, esc10:PATH, sonyc-ust:PATH (the datasets in their original layout, read from their
own metadata files, offline), urban-eval:PATH (metadata.csv with file,dataset,label,fold), and
synth:N[:SEED] (N procedural 10 s urban soundscapes). Audio is downmixed and resampled once to
--sample-rate. Inputs that cannot be used are skipped and listed in the manifest with the
reason. Re-running the same command resumes an interrupted run; new sources are appended.
"""

from __future__ import annotations

from data_prep.settings.prepare import PrepareSettings
from sea.errors import printable
from sea.settings_cli import Command


def run(settings: PrepareSettings) -> int:
    from data_prep.prepare import prepare

    out = settings.out
    manifest = prepare(settings)
    print(f"{printable(out)}: {manifest['clips']} clips, {manifest['seconds']:.1f} s, "
          f"{len(manifest['skipped'])} skipped inputs, content {manifest['content_sha256'][:16]}")
    for row in manifest["skipped"][:10]:
        print(f"  skipped {printable(row['path'])}: {printable(row['reason'])}")
    if len(manifest["skipped"]) > 10:
        print(f"  ... {len(manifest['skipped']) - 10} more (see `sea store info {printable(out)}`)")
    return 0


COMMAND = Command(PrepareSettings, run)
