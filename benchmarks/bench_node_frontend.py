"""The node's frontend per window, against the frontend as it was before issue 15.

Three variants on the same generated stream, in alternating rounds:
- `before`: the numpy frontend of commit BASELINE_REV (float32 FFT, np.pad and a sliding
  window view per window), window by window as the node ran it then; loaded from git, so
  this variant is skipped outside a git checkout;
- `window`: today's LogMelFrontend window by window (the evaluate stage's path);
- `stream`: the node's path (sea.overlap.OverlapFrontend: shared STFT frames computed once).
Every timing runs in a fresh child process. The old frontend's speed depends on the heap's
history: its ~400 KB temporaries are mmapped and page-faulted anew on every call (as in the
node, which allocates nothing larger) until a larger free raises glibc's dynamic mmap
threshold. So the children pin glibc's default threshold (128 KiB, mallopt), as the node ran,
and `before-warm` times the old frontend after a 32 MB temporary raised it: its best case.
Prints CPU milliseconds per window (process time, best round) and each round's ratio to
`before` (ratios from interleaved rounds are what to quote on a busy machine), the machine
load, and the largest difference of each variant to the float64 reference.
BLAS is single-threaded, as in `sea-node` (deploy.node.threads).

    python benchmarks/bench_node_frontend.py [--model edgel3-sea-64] [--hops 0.1 0.5]
"""

from __future__ import annotations

from deploy.node.threads import single_threaded_blas

single_threaded_blas()  # before numpy loads, as the node does

import argparse  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from sea.configs import get_config  # noqa: E402
from sea.framing import frame_audio  # noqa: E402
from sea.frontend import LogMelFrontend  # noqa: E402
from sea.overlap import OverlapFrontend  # noqa: E402

BASELINE_REV = "e2a2d2d"  # the last commit before issue 15 changed sea/frontend.py
REPO = Path(__file__).resolve().parents[1]


def baseline_frontend(cfg) -> LogMelFrontend | None:
    """The LogMelFrontend class of BASELINE_REV (None, with a note, where git cannot say)."""
    try:
        source = subprocess.run(["git", "show", f"{BASELINE_REV}:sea/frontend.py"], cwd=REPO,
                                check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"`before` skipped: no git history here ({exc})")
        return None
    module = types.ModuleType("frontend_before_issue15")
    exec(compile(source, f"{BASELINE_REV}:sea/frontend.py", "exec"), module.__dict__)
    return module.LogMelFrontend(cfg)


def cpu_ms_per_window(fn, windows: np.ndarray) -> float:
    start = time.process_time()
    for i, window in enumerate(windows):
        fn(window, i)
    return (time.process_time() - start) / len(windows) * 1e3


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def stream_windows(cfg, seconds: float, hop: float) -> np.ndarray:
    signal = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * cfg.sample_rate))
    return frame_audio(signal, cfg.sample_rate, hop, center=True)[0].astype(np.float32)


def variant(name: str, cfg, hop: float):
    """fn(window, index) -> image of the named variant (None where it cannot be built here)."""
    if name.startswith("before"):
        before = baseline_frontend(cfg)
        return None if before is None else (lambda w, i: before(w[None]))
    frontend = LogMelFrontend(cfg)
    if name == "window":
        return lambda w, i: frontend(w[None])
    return OverlapFrontend(frontend, int(round(hop * cfg.sample_rate)))


def pin_mmap_threshold(warm: bool) -> None:
    """glibc only: keep its default 128 KiB mmap threshold (warm: let a large free raise it)."""
    try:
        libc = ctypes.CDLL(None)
        if warm:
            np.ones(4_000_000).sum()  # a 32 MB temporary, freed: glibc raises its threshold
        else:
            libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD; a set value is no longer dynamic
    except (OSError, AttributeError):
        print("not glibc: heap left as it is")


def child(name: str, model: str, hop: float, seconds: float) -> None:
    """One timing in this (fresh) process: prints {"ms": CPU ms per window}."""
    pin_mmap_threshold(warm=name == "before-warm")
    cfg = get_config(model).frontend
    windows = stream_windows(cfg, seconds, hop)
    fn = variant(name, cfg, hop)
    fn(windows[0], -2)  # first-call costs (FFT plans, kernels) are not per window
    print(json.dumps({"ms": None if fn is None else cpu_ms_per_window(fn, windows)}))


def time_in_child(name: str, args, hop: float) -> float | None:
    out = subprocess.run([sys.executable, __file__, "--child", name, "--model", args.model,
                          "--hops", str(hop), "--seconds", str(args.seconds)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])["ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edgel3-sea-64")
    parser.add_argument("--hops", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.model, args.hops[0], args.seconds)
    cfg = get_config(args.model).frontend
    reference = LogMelFrontend(cfg, dtype=np.float64)
    names = ["before", "before-warm", "window", "stream"]
    print(f"{args.model}: numpy {np.__version__}, {load()}")
    for hop in args.hops:
        windows = stream_windows(cfg, args.seconds, hop)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.rounds):  # alternating: the load moves every variant alike
            for name in names:
                times[name].append(time_in_child(name, args, hop))
        truth = reference(windows)
        overlap = variant("stream", cfg, hop)
        print(f"hop {hop} s ({len(windows)} windows; stream reuses {len(overlap.reuse)} of "
              f"{cfg.n_frames} STFT frames), {load()}:")
        for name in names:
            if times[name][0] is None:
                continue
            fn = variant(name, cfg, hop)
            diff = max(np.abs(fn(w, i) - truth[i]).max() for i, w in enumerate(windows))
            ratios = ("" if times["before"][0] is None or name == "before" else
                      ", x%s vs before per round" % "/".join(
                          f"{b / t:.2f}" for b, t in zip(times["before"], times[name])))
            print(f"  {name:11s} {min(times[name]):.3f} CPU ms/window (best of {args.rounds})"
                  f"{ratios}; max |diff| to float64 {diff:.1e} dB")


if __name__ == "__main__":
    main()
