"""Download a public dataset into DIR with soundata, in the layout `sea prepare` reads, or
published model weights ahead of time: `sea download weights NAME...` (names from `sea models`;
`sea download weights all` fetches every published file) into `$SEA_HOME/weights`.

DATASET is urbansound8k, esc50 or any other soundata dataset name. SONYC-UST has no soundata
loader (soundata 1.0.1); the command prints where to get it instead. Needs network access;
datasets also need the `data` extra (pip install -e ".[data]"), weights need no extra.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

# sea source name -> soundata dataset name
SOUNDATA_NAMES = {"urbansound8k": "urbansound8k", "esc50": "esc50", "esc10": "esc50"}
SONYC_UST_HELP = (
    "soundata has no SONYC-UST loader. Download annotations.csv, dcase-ust-taxonomy.yaml and "
    "audio-*.tar.gz from https://zenodo.org/records/3966543 (SONYC-UST v2.3, CC BY 4.0) into "
    "{dir}, extract the archives there, then run: sea prepare sonyc-ust:{dir} --out STORE"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="urbansound8k, esc50, sonyc-ust, a soundata name, or "
                        "`weights` (then the model names follow)")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="with `weights`: models whose published weights to fetch "
                        "(see `sea models`), or all")
    parser.add_argument("--data-home", metavar="DIR",
                        help="where the dataset is stored (required for a dataset)")
    parser.add_argument("--cleanup", action="store_true",
                        help="delete the downloaded archives after extracting")
    parser.add_argument("--force", action="store_true", help="download again over existing files")


def run(args: argparse.Namespace) -> int:
    if args.dataset == "weights":
        from sea.weights import download_weights

        return download_weights(args.names, force=args.force)
    if args.names:
        log.error("only `sea download weights` takes names after the dataset")
        return 2
    if not args.data_home:
        log.error("`sea download %s` needs --data-home DIR", args.dataset)
        return 2
    if args.dataset in ("sonyc-ust", "sonyc_ust"):
        print(SONYC_UST_HELP.format(dir=args.data_home))
        return 2
    try:
        import soundata
    except ImportError:
        from sea.extras import install_hint

        log.error("%s", install_hint("soundata", "`sea download`"))
        return 2
    name = SOUNDATA_NAMES.get(args.dataset, args.dataset)
    if name not in soundata.list_datasets():
        log.error("unknown dataset %r; soundata knows: %s", args.dataset,
                  ", ".join(soundata.list_datasets()))
        return 2
    dataset = soundata.initialize(name, data_home=args.data_home)
    try:
        dataset.download(force_overwrite=args.force, cleanup=args.cleanup)
    except Exception as exc:  # network errors, checksum mismatches, ...
        log.error("download of %s failed: %s", name, exc)
        return 1
    source = args.dataset if args.dataset in SOUNDATA_NAMES else "folder"
    print(f"downloaded {name} to {args.data_home}; next: "
          f"sea prepare {source}:{args.data_home} --out STORE")
    return 0
