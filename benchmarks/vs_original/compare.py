"""Side by side: the original OpenL3 / EdgeL3 code against `sea` on the same CPU, in one run.

    python benchmarks/vs_original/compare.py --json OUT.json [--models openl3 edgel3]
        [--threads 1 2] [--rounds 3] [--seconds 10] [--clips 8] [--paths ...]

1. Builds (once) the original stack's venv: TF 2.15.1, kapre 0.3.7 from its 2022 sdist, kapre
   0.1.7, openl3 0.4.2 / edgel3 0.2.1 sources on the path (original_env.py).
2. Loads the fixture weights (../shared/fixtures: the published EdgeL3 SEA-64 file, the
   random-weight OpenL3 mel256 file) into the original models and into sea's.
3. Starts one worker process per (path, model, threads): `original-keras` (original_worker.py),
   `sea-torch` (float32; `sea-torch-bf16` where the CPU has bf16 units), `sea-tflite-float32`
   and `sea-tflite-int8` (bundles exported here, int8 calibrated on real clips). Each embeds
   the same real clips (urban-eval, resampled once to the model's rate so no resampler runs
   inside either code) for the fidelity figure, then all are timed on the same audio,
   alternating round by round, with the machine load printed.
4. Writes OUT.json: one row per (path, model, threads, precision) with windows_per_second
   (best round), cosine_min (per window, to the original on the real clips) and the load
   (1/5/15 min) when that round ended; a path whose export or worker failed is a row with
   `error` (why) instead, and the other rows are still written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from original_env import default_env, ensure_env  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures"
URBAN_EVAL = REPO.parent / "shared" / "data" / "urban-eval"
MODELS = {  # compare.py name -> (sea config, fixture weights, original package)
    "openl3": ("openl3-mel256-env", "openl3_mel256_random_seed0.h5", "openl3"),
    "edgel3": ("edgel3-sea-64", "edgel3_sea_ust_audio_emb_64.h5", "edgel3"),
}
SEA_PATHS = ("sea-torch", "sea-torch-bf16", "sea-tflite-float32", "sea-tflite-int8")
DEFAULT_PATHS = ("original-keras", "sea-torch", "sea-torch-bf16", "sea-tflite-float32",
                 "sea-tflite-int8")


def load_text() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def prepare_audio(model: str, work: Path, seconds: float, clips: int,
                  clip_seconds: float | None = None) -> Path:
    """npz with `sr`, `timing` (the real clips joined and looped to `seconds`), `real_<i>`
    clips (fidelity) and `calib_<i>` clips (other files: int8 calibration), at the model's
    own rate."""
    import soundfile as sf

    from sea.audio import resample
    from sea.configs import get_config

    rate = get_config(MODELS[model][0]).frontend.sample_rate
    files = sorted((URBAN_EVAL / "audio").rglob("*.flac"))
    if not files:
        sys.exit(f"no urban-eval clips under {URBAN_EVAL}: the fidelity figure needs real audio")
    spread = np.linspace(0, len(files) - 2, 4 * clips).astype(int)

    def read(path: Path) -> np.ndarray:
        audio, sr = sf.read(path, dtype="float64", always_2d=True)
        audio = audio[:int(clip_seconds * sr)] if clip_seconds else audio
        return resample(audio.mean(axis=1), sr, rate).astype(np.float64)

    real = [read(files[i]) for i in spread[::4]]
    calib = [read(files[i + 1]) for i in spread]  # neighbours of the real clips: other files
    timing = np.concatenate(real)
    timing = np.tile(timing, int(np.ceil(seconds * rate / len(timing))))[:int(seconds * rate)]
    out = work / f"audio_{model}.npz"
    np.savez(out, sr=rate, timing=timing, **{f"real_{i}": clip for i, clip in enumerate(real)},
             **{f"calib_{i}": clip for i, clip in enumerate(calib)})
    return out


def export_bundles(model: str, work: Path, audio: Path,
                   paths: list[str]) -> tuple[dict[str, Path], dict[str, tuple[str, str]]]:
    """Float32 / int8 bundles of the sea model (calibration and parity on real windows), and
    (why, load) for each bundle that could not be made (its row says so; the others still
    run)."""
    from deploy.exporter import export_bundle
    from deploy.representative import WindowSet
    from deploy.settings.export import ExportSettings
    from sea.framing import frame_audio
    from sea.quantization import Quantization
    from training.checkpoint import build_model

    name, weights, _ = MODELS[model]
    bundles, failures = {}, {}
    for quantize in (Quantization.FLOAT32, Quantization.INT8):
        path = f"sea-tflite-{quantize.label}"
        out = work / f"bundle_{model}_{quantize.value}"
        if path not in paths:
            continue
        if not (out / "manifest.json").is_file():
            net = build_model(name, weights=FIXTURES / weights, dft_mode="matmul")
            rate = net.cfg.frontend.sample_rate
            with np.load(audio, allow_pickle=False) as data:
                clips = [data[k] for k in data.files if k.startswith("calib_")]
            windows = np.concatenate([frame_audio(c, rate, 0.5, False)[0] for c in clips])
            need = 32 + (128 if quantize.needs_calibration else 0)
            picked = np.random.default_rng(0).permutation(len(windows))[:need]
            print(f"exporting {model} {quantize} on {len(picked)} real windows", flush=True)
            try:
                settings = ExportSettings(model=name, weights=str(FIXTURES / weights), out=out,
                                          quantize=quantize, frontend="outside")
                export_bundle(settings, net, WindowSet(
                    windows[picked].astype(np.float32),
                    {"kind": "urban-eval", "windows": len(picked)}))
            except Exception as exc:  # noqa: BLE001  the int8 parity gate, a converter error:
                # whatever stops one export is that row's result; the other rows still run
                print(f"{path} {model}: export failed: {exc}", flush=True)
                failures[path] = (f"export failed: {exc}", load_text())
                continue
        bundles[path] = out
    return bundles, failures


def sea_worker(args: argparse.Namespace) -> None:
    """The `sea-*` side of the line protocol of original_worker.py."""
    import torch

    from sea.bundle import BundleEmbedder
    from training.checkpoint import build_model
    from training.embedder import Embedder

    torch.set_num_threads(args.threads)
    name, weights, _ = MODELS[args.model]
    if args.path.startswith("sea-torch"):
        precision = "bf16" if args.path.endswith("bf16") else "float32"
        embedder = Embedder(build_model(name, weights=FIXTURES / weights), batch_size=32,
                            device="cpu", precision=precision)
    else:
        embedder = BundleEmbedder(args.bundle, num_threads=args.threads)
    with np.load(args.audio, allow_pickle=False) as data:
        sr, timing = int(data["sr"]), data["timing"]
        real = [data[f"real_{i}"] for i in range(sum(k.startswith("real_") for k in data.files))]
    np.savez(args.real_out, *[embedder.embed(clip, sr, 0.1, True)[0] for clip in real])
    embedder.embed(timing[:sr], sr)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        start, cpu = time.perf_counter(), time.process_time()
        windows = len(embedder.embed(timing, sr, 0.1, True)[0])
        print(json.dumps({"seconds": time.perf_counter() - start, "windows": windows,
                          "cpu_seconds": time.process_time() - cpu}), flush=True)


class Worker:
    def __init__(self, path: str, model: str, threads: int, cmd: list[str], env: dict,
                 real_out: Path):
        self.path, self.model, self.threads, self.real_out = path, model, threads, real_out
        self.precision = "bf16" if path.endswith("bf16") else "float32"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self.rates: list[float] = []
        self.cpu_rates: list[float] = []  # windows per CPU second of all its threads
        self.loads: list[str] = []  # machine load after each of its rounds
        self.error: str | None = None  # why it has no result: it is then left out of rounds

    def _exited(self, when: str) -> None:
        self.error = f"worker exited {when} (status {self.proc.wait()})"
        self.loads.append(load_text())
        print(f"{self.path} {self.model} threads {self.threads}: {self.error}", flush=True)

    def wait_ready(self) -> bool:
        for line in self.proc.stdout:
            if line.strip() == "ready":
                return True
        self._exited("before it was ready")
        return False

    def run_once(self) -> float | None:
        try:
            self.proc.stdin.write("run\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self._exited(f"in round {len(self.rates)}")
            return None
        result = json.loads(line)
        rate = result["windows"] / result["seconds"]
        self.rates.append(rate)
        self.cpu_rates.append(result["windows"] / max(result["cpu_seconds"], 1e-9))
        self.loads.append(load_text())
        return rate

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait()


def single_threaded_env(threads: int, extra_path: list[Path] = ()) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in extra_path)
    return env


def start_workers(args: argparse.Namespace, model: str, work: Path, audio: Path,
                  bundles: dict[str, Path]) -> list[Worker]:
    from training.inference import PrecisionUnavailable, check_precision

    workers = []
    for threads in args.threads:
        for path in args.paths:
            real_out = work / f"real_{path}_{model}_{threads}.npz"
            if path == "original-keras":
                python = ensure_env(args.env)
                kapre = args.env / ("kapre03" if model == "openl3" else "kapre01")
                cmd = [str(python), str(HERE / "original_worker.py"), "--model", model,
                       "--weights", str(FIXTURES / MODELS[model][1]), "--threads", str(threads),
                       "--audio", str(audio), "--real-out", str(real_out)]
                env = single_threaded_env(threads, [kapre, args.env / "src"])
            else:
                if path == "sea-torch-bf16":
                    try:
                        import torch

                        check_precision("bf16", torch.device("cpu"))
                    except PrecisionUnavailable as exc:
                        print(f"{path} skipped: {exc}", flush=True)
                        continue
                if path.startswith("sea-tflite") and path not in bundles:
                    continue
                cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", path,
                       "--model", model, "--worker-threads", str(threads), "--audio", str(audio),
                       "--real-out", str(real_out), "--bundle", str(bundles.get(path, ""))]
                env = {**single_threaded_env(threads, [REPO]),
                       "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}  # as sea.cli
            workers.append(Worker(path, model, threads, cmd, env, real_out))
            workers[-1].wait_ready()  # one at a time: start-up is not timed
    return workers


def min_cosine(reference: Path, candidate: Path) -> float:
    from deploy.parity import cosine

    with np.load(reference, allow_pickle=False) as a, np.load(candidate, allow_pickle=False) as b:
        keys = sorted(a.files, key=lambda k: int(k.split("_")[1]))
        return float(min(cosine(a[k], b[k]).min() for k in keys))


def compare_model(args: argparse.Namespace, model: str, work: Path) -> list[dict]:
    audio = prepare_audio(model, work, args.seconds, args.clips, args.clip_seconds)
    bundles, failures = export_bundles(model, work, audio, args.paths)
    workers = start_workers(args, model, work, audio, bundles)
    try:
        for r in range(args.rounds):
            for worker in workers:  # alternating: a load spike hits every path alike
                rate = None if worker.error else worker.run_once()
                if rate is None:
                    continue
                print(f"round {r} {model:<7} {worker.path:<19} threads {worker.threads} "
                      f"{rate:7.2f} windows/s ({worker.cpu_rates[-1]:6.2f} per CPU-s)  "
                      f"load {worker.loads[-1]}", flush=True)
    finally:
        for worker in workers:
            worker.close()
    done = [w for w in workers if not w.error]
    originals = {w.threads: w.real_out for w in done if w.path == "original-keras"}
    rows = []
    for w in done:
        reference = originals.get(w.threads) or next(iter(originals.values()), None)
        rows.append({"path": w.path, "model": MODELS[model][0], "threads": w.threads,
                     "precision": w.precision, "windows_per_second": round(max(w.rates), 3),
                     "rounds": [round(x, 3) for x in w.rates],
                     # load-robust: windows per CPU second (x threads ~ the idle-machine rate)
                     "windows_per_cpu_second": round(max(w.cpu_rates), 3),
                     "cosine_min": (round(min_cosine(reference, w.real_out), 7)
                                    if reference else None),
                     # the load when its best round ended, and after each round
                     "load": w.loads[w.rates.index(max(w.rates))], "load_rounds": w.loads})
    rows += [{"path": w.path, "model": MODELS[model][0], "threads": w.threads,
              "error": w.error, "load": w.loads[-1]} for w in workers if w.error]
    rows += [{"path": path, "model": MODELS[model][0], "threads": threads, "error": reason,
              "load": load}
             for path, (reason, load) in failures.items() for threads in args.threads]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the rows here (OUT.json)")
    parser.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    parser.add_argument("--paths", nargs="+", choices=DEFAULT_PATHS, default=list(DEFAULT_PATHS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="timing audio length")
    parser.add_argument("--clips", type=int, default=8, help="real clips for cosine_min")
    parser.add_argument("--clip-seconds", type=float,
                        help="use only the first seconds of each real clip (default: all)")
    parser.add_argument("--env", type=Path, default=default_env(),
                        help="original stack venv (built on first use)")
    parser.add_argument("--work", type=Path, help="bundles and audio cache (default: temporary)")
    parser.add_argument("--worker", choices=SEA_PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    parser.add_argument("--real-out", help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.path, args.threads = args.worker, args.worker_threads
        return sea_worker(args)
    if not FIXTURES.is_dir():
        sys.exit(f"{FIXTURES} not found: the comparison needs the fixture weights")
    ensure_env(args.env)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = [row for model in args.models for row in compare_model(args, model, work)]
    print(f"\n{'path':<20}{'model':<20}{'threads':>8}{'precision':>10}{'windows/s':>11}"
          f"{'per CPU-s':>11}{'cosine_min':>12}  load (1/5/15 min)")
    for row in rows:
        if "error" in row:
            print(f"{row['path']:<20}{row['model']:<20}{row['threads']:>8}  {row['error']}"
                  f"  {row['load']}")
            continue
        cos = "-" if row["cosine_min"] is None else f"{row['cosine_min']:.6f}"
        print(f"{row['path']:<20}{row['model']:<20}{row['threads']:>8}{row['precision']:>10}"
              f"{row['windows_per_second']:>11.2f}{row['windows_per_cpu_second']:>11.2f}{cos:>12}"
              f"  {row['load']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"rows written to {args.json}")


if __name__ == "__main__":
    main()
