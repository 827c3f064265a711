"""Inspect a clip store: `sea store info STORE [--json] [--verify]`.

Prints clips, seconds, counts per dataset, label and fold, skipped inputs with reasons and the
content digest (over clip ids and audio in clip-id order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sea.errors import printable
from sea.settings import Settings, setting
from sea.settings_cli import Command


@dataclass(frozen=True, kw_only=True)
class StoreInfoSettings(Settings):
    store: Path = setting(positional=True, help="clip store directory")
    json: bool = setting(False, help="print JSON")
    verify: bool = setting(False,
                           help="re-read all audio and check it against the recorded digests")


def store_info(path: str | Path, verify: bool = False) -> dict:
    from sea.store import ClipStore

    store = ClipStore(path)
    info = {"path": str(store.path), "sample_rate": store.sample_rate,
            "status": store.manifest.get("status"), **store.summary(),
            "skipped": store.manifest.get("skipped", []),
            "content_sha256": store.manifest.get("content_sha256")}
    if verify or info["status"] != "complete" or not info["content_sha256"]:
        info["content_sha256"] = store.content_sha256()
    if verify:
        info["damaged_clips"] = store.verify()
    return info


def _print_counts(title: str, counts: dict) -> None:
    print(f"{title}:")
    for key, n in counts.items():
        print(f"  {printable(key):<32} {n}")


def run_info(settings: StoreInfoSettings) -> int:
    info = store_info(settings.store, verify=settings.verify)
    if settings.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{printable(info['path'])}: {info['clips']} clips, {info['seconds']:.1f} s at "
              f"{info['sample_rate']} Hz ({info['status']}), {info['sensors']} sensors")
        print(f"content_sha256: {info['content_sha256']}")
        for key in ("datasets", "labels", "folds"):
            _print_counts(key, info[key])
        print(f"skipped: {len(info['skipped'])}")
        for row in info["skipped"]:
            print(f"  {printable(row['path'])}: {printable(row['reason'])}")
        if settings.verify:
            print(f"damaged clips: {info['damaged_clips'] or 'none'}")
    return 1 if settings.verify and info["damaged_clips"] else 0


COMMAND = {"info": Command(StoreInfoSettings, run_info,
                           help="counts, skipped inputs and checksum of a store")}
