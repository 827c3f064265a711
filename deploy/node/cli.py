"""sea-node: run a deploy bundle on a sensor node (numpy + a TFLite interpreter only).

    sea-node run --bundle BUNDLE --input FILE|DIR|mic [--hop 0.5] --out OUT.jsonl
    sea-node serve --config node.toml [--drain]

`serve` is the unattended service (deploy/node/serve.py, docs/node.md): levels, classes and
embeddings in rotated, checksummed segments, a disk budget, status.json, restart without a gap
or a repeated window; SIGTERM closes the open segment. `--drain` exits once the spool is empty.

Audio is streamed in 1-s windows (files read in blocks, directories recursively, `mic` via
sounddevice), one JSON line per window is written and flushed as it is computed (into
OUT.partial, renamed to OUT when the run ends, so a crashed run never leaves a cut-off OUT;
unreadable inputs are reported with their reason and skipped), and SIGINT/SIGTERM stop the
run cleanly after the current line.
Exit status: 0 when every input was processed (or the run was stopped), 1 when some input
failed, 2 for a bad bundle or arguments; 3, 4, 70, 130 and 141 as for `sea` (README, "Errors
and exit codes").
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from deploy.node.threads import single_threaded_blas

single_threaded_blas()  # before numpy is first imported, by the modules below

from deploy.node.runner import NodeRunner  # noqa: E402
from deploy.node.sources import file_source, mic_source  # noqa: E402
from sea.argtypes import positive_int, seconds, threads  # noqa: E402
from sea.audio import AudioError  # noqa: E402
from sea.bundle import VARIANTS, BundleEmbedder  # noqa: E402
from sea.clirun import add_verbose_flag, run_cli  # noqa: E402
from sea.errors import SeaError  # noqa: E402
from sea.files import find_audio_files  # noqa: E402

log = logging.getLogger("sea.node")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sea-node", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="embed audio with a bundle, one JSON line per window")
    run.add_argument("--bundle", required=True, type=Path, help="bundle directory (sea export)")
    run.add_argument("--input", required=True, nargs="+", metavar="FILE|DIR|mic",
                     help="audio files, directories (recursive) or `mic`")
    run.add_argument("--out", required=True, help="output .jsonl file, or - for stdout")
    run.add_argument("--hop", type=seconds, default=0.5, help="seconds between windows (0.5)")
    run.add_argument("--no-center", dest="center", action="store_false",
                     help="do not pad half a window at the start (times mark window starts)")
    run.add_argument("--variant", choices=VARIANTS, help="graph variant (default: outside)")
    run.add_argument("--threads", type=threads, default=1, help="interpreter threads (1)")
    run.add_argument("--top-k", type=positive_int, default=3,
                     help="classes per line with a head (3)")
    run.add_argument("--no-embeddings", dest="embeddings", action="store_false",
                     help="with a classifier head, write only the top classes")
    run.add_argument("--block-seconds", type=seconds, default=0.5,
                     help="audio read per block (0.5)")
    run.add_argument("--device", help="sounddevice input device for `mic`")
    serve = sub.add_parser("serve", help="run as a service from node.toml (docs/node.md)")
    serve.add_argument("--config", required=True, type=Path, help="node.toml")
    serve.add_argument("--drain", action="store_true",
                       help="stop once the spool folder is empty (batch runs, benchmarks)")
    add_verbose_flag(parser)
    return parser


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event):
    """SIGINT/SIGTERM only set `stop`; the runner finishes the line it is writing."""
    def handler(signum, frame) -> None:
        log.warning("received %s: stopping after the current window", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def open_output(target: str):
    """The output stream. A file is written as `TARGET.partial` (flushed line by line, so it
    can be followed live) and renamed to TARGET when the run ends; a run that crashes or is
    killed leaves TARGET as it was, and re-running the same command writes it whole."""
    if target == "-":
        yield sys.stdout
        return
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    with open(partial, "w", encoding="utf-8") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, final)


def run(args: argparse.Namespace) -> int:
    try:
        embedder = BundleEmbedder(args.bundle, variant=args.variant, num_threads=args.threads)
    except SeaError as exc:
        log.error("%s", exc)
        return 2
    if not 0 < args.hop <= embedder.cfg.frontend.window_seconds:
        log.error("--hop must be in (0, %s] seconds", embedder.cfg.frontend.window_seconds)
        return 2
    stop = threading.Event()
    live = [i for i in args.input if i == "mic"]
    files, problems = find_audio_files([i for i in args.input if i != "mic"])
    with open_output(args.out) as out, stop_on_signals(stop):
        runner = NodeRunner(embedder, out, args.hop, args.center, args.top_k,
                            args.embeddings, stop)
        for path, reason in problems:
            runner.report_error(path, reason)
        for path in files:
            if stop.is_set():
                break
            try:
                source = file_source(str(path), args.block_seconds)
            except AudioError as exc:
                runner.report_error(str(path), str(exc))
                continue
            runner.run_source(source)
        if live and not stop.is_set():
            try:
                runner.run_source(mic_source(embedder.sample_rate, args.block_seconds, stop,
                                             args.device))
            except AudioError as exc:
                runner.report_error("mic", str(exc))
    s = runner.stats
    log.info("%d windows from %d sources, %d inputs failed%s", s.windows, s.sources, s.errors,
             " (stopped by signal)" if stop.is_set() else "")
    return 1 if s.errors else 0


def serve(args: argparse.Namespace) -> int:
    from deploy.node.config import load_config
    from deploy.node.serve import Server

    stop = threading.Event()
    with stop_on_signals(stop):
        Server(load_config(args.config), stop, drain=args.drain).serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `sea-node` entry point; failures end as one line and an exit code (sea.clirun)."""
    argv = sys.argv[1:] if argv is None else list(argv)

    def body() -> int:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "run":
            return run(args)
        if args.command == "serve":
            return serve(args)
        parser.print_help()
        return 2

    command = next((c for c in ("run", "serve") if c in argv), None)
    return run_cli(body, argv, "sea-node", command)


if __name__ == "__main__":
    sys.exit(main())
