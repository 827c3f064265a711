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

from deploy.node.threads import single_threaded_blas

single_threaded_blas()  # before numpy is first imported, by the modules below

from deploy.node.calibration import read_offset, store_calibration  # noqa: E402
from deploy.node.runner import NodeRunner  # noqa: E402
from deploy.node.settings import CalibrateSettings, RunSettings, ServeSettings  # noqa: E402
from deploy.node.sources import file_source, mic_source  # noqa: E402
from sea.audio import AudioError, load_audio, read_info  # noqa: E402
from sea.bundle import BundleEmbedder  # noqa: E402
from sea.clirun import ArgumentParser, add_verbose_flag, run_cli  # noqa: E402
from sea.errors import printable  # noqa: E402
from sea.files import find_audio_files  # noqa: E402
from sea.levels import calibration_offset  # noqa: E402
from sea.safe_write import atomic_output, refuse_unsafe_output  # noqa: E402
from sea.settings_cli import Command, add_command, run_parsed  # noqa: E402
from sea.signing import verify_bundle_signature  # noqa: E402

log = logging.getLogger("sea.node")
LEVELS_MIC_RATE = 48000  # class 1 weighting up to 20 kHz needs >= 44.1 kHz (sea.levels)
CALIBRATE_DOC = (
    "Measure a calibrator recording (a steady tone of known level, e.g. 94 dB SPL at 1 kHz, "
    "the microphone in the calibrator) and store the offset that makes it read that level in "
    "the node config's [calibration] table; `sea-node run --config` then writes calibrated "
    "levels. The first 0.5 s are skipped (settling).")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sea-node", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMAND.items():
        add_command(sub, name, command, command.help,
                    CALIBRATE_DOC if name == "calibrate" else None)
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


def open_output(target: str) -> contextlib.AbstractContextManager:
    """The output stream: stdout for `-`, else a file written through `sea.safe_write` (a
    unique temporary file, flushed line by line, renamed to TARGET when the run ends; a run
    that crashes or is killed leaves TARGET as it was)."""
    if target == "-":
        return contextlib.nullcontext(sys.stdout)
    return atomic_output(target)


def calibrate(settings: CalibrateSettings) -> int:
    result = calibration_offset(load_audio(settings.input)[0],
                                read_info(settings.input).samplerate, settings.reference_db,
                                settings.frequency)
    store_calibration(settings.config, result, str(settings.input))
    print(f"{printable(settings.input)}: {result.frequency_hz:.0f} Hz tone at "
          f"{result.measured_db:.2f} dB FS (0.1-s levels within {result.spread_db:.2f} dB); "
          f"offset {result.offset_db:.2f} dB written to {printable(settings.config)} [calibration]")
    return 0


def run(settings: RunSettings) -> int:
    files = [i for i in settings.input if i != "mic"]
    refuse_unsafe_output(settings.out, [settings.bundle, *files])
    if settings.trust:
        signed = verify_bundle_signature(settings.bundle, list(settings.trust))
        log.info("bundle signed by trusted key %s (%s)", signed.key_id[:16], signed.trusted_key)
    embedder = BundleEmbedder(settings.bundle, variant=settings.variant,
                              num_threads=settings.threads)
    # refused before any output: a hop beyond a window, or below one sample
    settings.hop_length(embedder.sample_rate, embedder.cfg.frontend.window_seconds)
    offset = read_offset(settings.config) if settings.config else settings.calibration_db
    if settings.period and embedder.head is None:
        log.warning("--period: %s has no classifier head, so no period lines", settings.bundle)
    stop = threading.Event()
    live = len(files) < len(settings.input)
    files, problems = find_audio_files(files)
    with open_output(settings.out) as out, stop_on_signals(stop):
        runner = NodeRunner(embedder, out, settings.hop, settings.center, settings.top_k,
                            settings.embeddings, stop, settings.period, offset)
        for path, reason in problems:
            runner.report_error(path, reason)
        for path in files:
            if stop.is_set():
                break
            try:
                source = file_source(str(path), settings.block_seconds)
            except AudioError as exc:
                runner.report_error(str(path), str(exc))
                continue
            runner.run_source(source)
        if live and not stop.is_set():
            try:
                # levels want the microphone's full band; the runner resamples for the model
                rate = embedder.sample_rate if offset is None else \
                    max(embedder.sample_rate, LEVELS_MIC_RATE)
                runner.run_source(mic_source(rate, settings.block_seconds, stop,
                                             settings.device))
            except AudioError as exc:
                runner.report_error("mic", str(exc))
    s = runner.stats
    log.info("%d windows from %d sources, %d inputs failed, %d windows not finite%s", s.windows,
             s.sources, s.errors, s.non_finite, " (stopped by signal)" if stop.is_set() else "")
    return 1 if s.errors or s.non_finite else 0


def serve(settings: ServeSettings) -> int:
    from deploy.node.config import load_config
    from deploy.node.serve import Server

    stop = threading.Event()
    with stop_on_signals(stop):
        Server(load_config(settings.config), stop, drain=settings.drain).serve()
    return 0


COMMAND = {
    "run": Command(RunSettings, run, help="embed audio with a bundle, one JSON line per window"),
    "calibrate": Command(CalibrateSettings, calibrate,
                         help="store a calibrator recording's offset in node.toml"),
    "serve": Command(ServeSettings, serve, help="run as a service from node.toml (docs/node.md)"),
}


def main(argv: list[str] | None = None) -> int:
    """The `sea-node` entry point; failures end as one line and an exit code (sea.clirun)."""
    argv = sys.argv[1:] if argv is None else list(argv)

    def body() -> int:
        parser = build_parser()
        result = run_parsed(parser.parse_args(argv))
        if result is None:
            parser.print_help()
            return 2
        return result

    return run_cli(body, argv, "sea-node", next((a for a in argv if a in COMMAND), None))


if __name__ == "__main__":
    sys.exit(main())
