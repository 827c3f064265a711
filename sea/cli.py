"""The `sea` command line: one subcommand per pipeline step, dispatched to its stage.

Each subcommand lives in a module exposing `COMMAND` (sea.settings_cli): its settings class,
from which the options are made, and `run(settings) -> int`. Modules import their heavy dependencies (torch, sklearn, ...) inside `run`, so `sea --help`
and the node-side commands stay light.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from sea.clirun import ArgumentParser, add_verbose_flag, run_cli
from sea.settings_cli import add_command, run_parsed

# OpenMP threads that sleep instead of spinning between parallel regions: on a machine shared
# with other busy processes, spinning torch threads wait on descheduled siblings (EdgeL3 SEA-64
# at 2 threads under load 15: 1.6 windows/s spinning, 58 passive). Read by libgomp when torch
# loads, so it is set here, before any command imports torch; an explicit value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# subcommand -> (module, one-line help). Order is the pipeline's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("sea.commands.models", "list the named model configs"),
    "download": ("data_prep.commands.download", "download a public dataset with soundata"),
    "prepare": ("data_prep.commands.prepare", "build a clip store from audio sources"),
    "store": ("sea.commands.store", "inspect a clip store (sea store info STORE)"),
    "embed": ("training.commands.embed", "embed audio files with a teacher or student"),
    "teacher-embed": ("training.commands.teacher_embed", "teacher embeddings of a clip store"),
    "reduce": ("training.commands.reduce", "sample embeddings, fit a reducer, make targets"),
    "distill": ("training.commands.distill", "train a student on reduced teacher embeddings"),
    "evaluate": ("training.commands.evaluate", "score embeddings with downstream classifiers"),
    "head": ("training.commands.head", "fit a classifier head for the node (sea head fit)"),
    "export": ("deploy.commands.export", "export a model to a TFLite bundle (float/fp16/int8)"),
    "keys": ("sea.commands.keys", "make a key pair for signing bundles (sea keys new)"),
    "verify": ("sea.commands.verify", "check a bundle's digests and signature"),
    "bench": ("deploy.commands.bench", "benchmark teacher and students as TFLite: size, latency, arena"),
    "collect": ("sea.commands.collect", "collector: receive node uploads, query API, dashboard"),
    "quickstart": ("pipeline.commands.quickstart", "run the whole pipeline on synthesized soundscapes"),
}


def build_parser() -> argparse.ArgumentParser:
    from sea import __version__

    parser = ArgumentParser(  # no abbreviated options, in every subcommand either
        prog="sea",
        description="Specialized Embedding Approximation: prepare urban audio, distill "
        "small students from L3 teachers, evaluate, and deploy to TFLite sensor nodes.",
    )
    parser.add_argument("--version", action="version", version=f"sea {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        add_command(sub, name, module.COMMAND, help_text, module.__doc__)
    add_verbose_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `sea` entry point; failures end as one line and an exit code (sea.clirun)."""
    argv = sys.argv[1:] if argv is None else list(argv)

    def body() -> int:
        parser = build_parser()
        args = parser.parse_args(argv)
        result = run_parsed(args)
        if result is None:
            parser.print_help()
            return 2
        return result

    # the command is known even when building the parser fails (a missing extra)
    command = next((a for a in argv if a in COMMANDS), None)
    return run_cli(body, argv, "sea", command)


if __name__ == "__main__":
    sys.exit(main())
