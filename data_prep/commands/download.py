"""Download a public dataset into DIR with soundata, in the layout `sea prepare` reads, or
published model weights ahead of time: `sea download weights NAME...` (names from `sea models`;
`sea download weights all` fetches every published file) into `$SEA_HOME/weights`.

DATASET is urbansound8k, esc50 or any other soundata dataset name. SONYC-UST has no soundata
loader (soundata 1.0.1); the command prints where to get it instead. Needs network access;
datasets also need the `data` extra (pip install -e ".[data]"), weights need no extra.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sea.errors import printable
from sea.settings import SettingError, Settings, setting
from sea.settings_cli import Command

log = logging.getLogger(__name__)

# sea source name -> soundata dataset name
SOUNDATA_NAMES = {"urbansound8k": "urbansound8k", "esc50": "esc50", "esc10": "esc50"}
SONYC_UST_HELP = (
    "soundata has no SONYC-UST loader. Download annotations.csv, dcase-ust-taxonomy.yaml and "
    "audio-*.tar.gz from https://zenodo.org/records/3966543 (SONYC-UST v2.3, CC BY 4.0) into "
    "{dir}, extract the archives there, then run: sea prepare sonyc-ust:{dir} --out STORE"
)


@dataclass(frozen=True, kw_only=True)
class DownloadSettings(Settings):
    dataset: str = setting(positional=True,
                           help="urbansound8k, esc50, sonyc-ust, a soundata name, or `weights` "
                                "(then the model names follow)")
    names: tuple[str, ...] = setting((), positional=True, nargs="*", metavar="NAME",
                                     help="with `weights`: models whose published weights to "
                                          "fetch (see `sea models`), or all")
    data_home: Path | None = setting(None, metavar="DIR",
                                     help="where the dataset is stored (required for a dataset)")
    cleanup: bool = setting(False, help="delete the downloaded archives after extracting")
    force: bool = setting(False, help="download again over existing files")

    def check(self) -> None:
        if self.dataset == "weights":
            return
        if self.names:
            raise SettingError("names", "only `sea download weights` takes {names} after the "
                               "dataset")
        if self.data_home is None:
            raise SettingError("data_home", f"`sea download {self.dataset}` needs {{data_home}}")


def run(settings: DownloadSettings) -> int:
    if settings.dataset == "weights":
        from sea.weights import download_weights

        return download_weights(list(settings.names), force=settings.force)
    if settings.dataset in ("sonyc-ust", "sonyc_ust"):
        print(SONYC_UST_HELP.format(dir=settings.data_home))
        return 2
    try:
        import soundata
    except ImportError:
        from sea.extras import install_hint

        log.error("%s", install_hint("soundata", "`sea download`"))
        return 2
    name = SOUNDATA_NAMES.get(settings.dataset, settings.dataset)
    if name not in soundata.list_datasets():
        log.error("unknown dataset %r; soundata knows: %s", settings.dataset,
                  ", ".join(soundata.list_datasets()))
        return 2
    dataset = soundata.initialize(name, data_home=str(settings.data_home))
    try:
        dataset.download(force_overwrite=settings.force, cleanup=settings.cleanup)
    except Exception as exc:  # network errors, checksum mismatches, ...
        log.error("download of %s failed: %s", name, exc)
        return 1
    source = settings.dataset if settings.dataset in SOUNDATA_NAMES else "folder"
    print(f"downloaded {name} to {printable(settings.data_home)}; next: "
          f"sea prepare {source}:{printable(settings.data_home)} --out STORE")
    return 0


COMMAND = Command(DownloadSettings, run)
