"""sea-node: run a deploy bundle on a sensor node (numpy + a TFLite interpreter only).

    sea-node run --bundle BUNDLE --input FILE|DIR|mic [--hop 0.5] --out OUT.jsonl
                 [--period SECONDS] [--config node.toml | --calibration-db OFFSET]
                 [--trust OPERATOR.pub]
    sea-node calibrate --input cal.wav --reference-db 94 --config node.toml
    sea-node serve --config node.toml [--drain]

`serve` is the unattended service (deploy/node/serve.py, docs/node.md): levels, classes and
embeddings in rotated, checksummed segments, a disk budget, status.json, restart without a gap
or a repeated window; SIGTERM closes the open segment. `--drain` exits once the spool is empty.

Audio is streamed in 1-s windows (files read in blocks, directories recursively, `mic` via
sounddevice), one JSON line per window is written and flushed as it is computed (into a
new hidden `.OUT.<random>.tmp` beside OUT, renamed to OUT when the run ends, so a crashed run
never leaves a cut-off OUT; unreadable inputs are reported with their reason and skipped), and
SIGINT/SIGTERM stop the run cleanly after the current line. OUT must not be an input, lie in an
input directory or the bundle, nor be a device, FIFO or directory. A window whose values are
not finite (NaN/Inf: a damaged bundle or audio) gets a line with an "error" field instead.
Exit status: 0 when every input was processed (or the run was stopped), 1 when some input
failed or some window was not finite, 2 for a bad bundle, output or arguments; 3, 4, 70, 130
and 141 as for `sea` (docs/errors.md).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path

from deploy.node.threads import single_threaded_blas

single_threaded_blas()  # before numpy is first imported, by the modules below

from deploy.node.calibration import read_offset, store_calibration  # noqa: E402
from deploy.node.runner import NodeRunner  # noqa: E402
from deploy.node.sources import file_source, mic_source  # noqa: E402
from sea.argtypes import (finite_float, positive_float, positive_int, seconds,  # noqa: E402
                          threads)
from sea.audio import AudioError, load_audio, read_info  # noqa: E402
from sea.bundle import VARIANTS, BundleEmbedder  # noqa: E402
from sea.clirun import ArgumentParser, add_verbose_flag, run_cli  # noqa: E402
from sea.errors import InvalidArgument, SeaError  # noqa: E402
from sea.framing import hop_samples  # noqa: E402
from sea.files import find_audio_files  # noqa: E402
from sea.levels import calibration_offset  # noqa: E402
from sea.safe_write import atomic_output, refuse_unsafe_output  # noqa: E402
from sea.signing import verify_bundle_signature  # noqa: E402

log = logging.getLogger("sea.node")
COMMANDS = ("run", "calibrate", "serve")
LEVELS_MIC_RATE = 48000  # class 1 weighting up to 20 kHz needs >= 44.1 kHz (sea.levels)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sea-node", description=__doc__,
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
    run.add_argument("--period", type=seconds, metavar="SECONDS",
                     help="with a head: also write the top classes of the windows pooled over "
                          "each period of SECONDS (the head's manifest suggests one)")
    levels = run.add_mutually_exclusive_group()
    levels.add_argument("--config", type=Path, metavar="NODE_TOML",
                        help="node config: its [calibration] offset_db turns levels on")
    levels.add_argument("--calibration-db", type=finite_float, metavar="OFFSET",
                        help="dB SPL = dB FS + OFFSET: write laeq, lceq, lafmax per window")
    cal = sub.add_parser("calibrate", help="store a calibrator recording's offset in node.toml",
                         description=calibrate_doc())
    cal.add_argument("--input", required=True, type=Path, help="recording of the calibrator")
    cal.add_argument("--reference-db", type=finite_float, default=94.0,
                     help="the calibrator's level in dB SPL (94)")
    cal.add_argument("--frequency", type=positive_float, default=1000.0, metavar="HZ",
                     help="the calibrator's frequency in Hz (1000)")
    cal.add_argument("--config", required=True, type=Path, metavar="NODE_TOML",
                     help="node config to write [calibration] into (created if absent)")
    run.add_argument("--trust", type=Path, action="append", metavar="PUBKEY_OR_DIR",
                     help="run only a bundle signed by this public key (a file, or a directory "
                          "of *.pub files; repeatable); unsigned or otherwise signed bundles "
                          "are refused before anything runs")
    serve = sub.add_parser("serve", help="run as a service from node.toml (docs/node.md)")
    serve.add_argument("--config", required=True, type=Path, help="node.toml")
    serve.add_argument("--drain", action="store_true",
                       help="stop once the spool folder is empty (batch runs, benchmarks)")
    add_verbose_flag(parser)
    return parser


def calibrate_doc() -> str:
    return ("Measure a calibrator recording (a steady tone of known level, e.g. 94 dB SPL at "
            "1 kHz, the microphone in the calibrator) and store the offset that makes it read "
            "that level in the node config's [calibration] table; `sea-node run --config` "
            "then writes calibrated levels. The first 0.5 s are skipped (settling).")


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


def open_output(target: str) -> contextlib.AbstractContextManager:
    """The output stream: stdout for `-`, else a file written through `sea.safe_write` (a
    unique temporary file, flushed line by line, renamed to TARGET when the run ends; a run
    that crashes or is killed leaves TARGET as it was)."""
    if target == "-":
        return contextlib.nullcontext(sys.stdout)
    return atomic_output(target)


def calibrate(args: argparse.Namespace) -> int:
    result = calibration_offset(load_audio(args.input)[0], read_info(args.input).samplerate,
                                args.reference_db, args.frequency)
    store_calibration(args.config, result, str(args.input))
    print(f"{args.input}: {result.frequency_hz:.0f} Hz tone at {result.measured_db:.2f} dB FS "
          f"(0.1-s levels within {result.spread_db:.2f} dB); offset {result.offset_db:.2f} dB "
          f"written to {args.config} [calibration]")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        refuse_unsafe_output(args.out, [args.bundle, *(i for i in args.input if i != "mic")])
        if args.trust:
            signed = verify_bundle_signature(args.bundle, args.trust)
            log.info("bundle signed by trusted key %s (%s)", signed.key_id[:16],
                     signed.trusted_key)
        embedder = BundleEmbedder(args.bundle, variant=args.variant, num_threads=args.threads)
        hop_samples(embedder.sample_rate, args.hop)  # below one sample: refused before output
        offset = read_offset(args.config) if args.config else args.calibration_db
    except SeaError as exc:
        log.error("--hop: %s" if isinstance(exc, InvalidArgument) else "%s", exc)
        return 2
    if not 0 < args.hop <= embedder.cfg.frontend.window_seconds:
        log.error("--hop must be in (0, %s] seconds", embedder.cfg.frontend.window_seconds)
        return 2
    if args.period and embedder.head is None:
        log.warning("--period: %s has no classifier head, so no period lines", args.bundle)
    stop = threading.Event()
    live = [i for i in args.input if i == "mic"]
    files, problems = find_audio_files([i for i in args.input if i != "mic"])
    with open_output(args.out) as out, stop_on_signals(stop):
        runner = NodeRunner(embedder, out, args.hop, args.center, args.top_k,
                            args.embeddings, stop, args.period, offset)
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
                # levels want the microphone's full band; the runner resamples for the model
                rate = embedder.sample_rate if offset is None else \
                    max(embedder.sample_rate, LEVELS_MIC_RATE)
                runner.run_source(mic_source(rate, args.block_seconds, stop, args.device))
            except AudioError as exc:
                runner.report_error("mic", str(exc))
    s = runner.stats
    log.info("%d windows from %d sources, %d inputs failed, %d windows not finite%s", s.windows,
             s.sources, s.errors, s.non_finite, " (stopped by signal)" if stop.is_set() else "")
    return 1 if s.errors or s.non_finite else 0


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
        commands = {"run": run, "calibrate": calibrate, "serve": serve}
        if args.command not in commands:
            parser.print_help()
            return 2
        return commands[args.command](args)

    return run_cli(body, argv, "sea-node", next((a for a in argv if a in COMMANDS), None))


if __name__ == "__main__":
    sys.exit(main())
