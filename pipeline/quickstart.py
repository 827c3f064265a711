"""The quickstart pipeline: synth store -> teacher embeddings -> PCA -> student -> int8 bundle
-> downstream report -> node run, all under one directory.

Every step is a `sea` subcommand run in-process through `sea.cli.main` (the node step runs
`sea-node` in a separate process, as on a sensor node), so the quickstart exercises exactly
what a user types and reads the stages only through their artifacts' manifests. A step is
skipped when `quickstart.json` records it as finished and its output is still there, so a
re-run after an interruption resumes; the stages resume their own partial work (clip store,
teacher shards, `distill --resume`, evaluation folds).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from sea.errors import SeaError, reading
from sea.manifest import atomic_write_json, read_manifest, write_manifest
from sea.output import claim_output
from sea.weights import bundled_path
from sea.schema import NUMBER, Fields, MapOf, check

KIND = "quickstart"
STATE_FILE = "quickstart.json"
# Synth scenes are multi-label and numbered in folds 1..5 (data_prep/sources/synth.py).
PROTOCOL = "folds-multilabel"
NODE_VARIANT = "outside"  # the node's default graph: numpy frontend, int8 network
TEACHER_EVAL_BUDGET_S = 180.0  # `--teacher-eval auto` embeds the teacher only if this fast
# (step = the method that runs it, the file whose presence says its output is complete)
STEPS = (("store", "store/manifest.json"), ("teacher", "teacher/manifest.json"),
         ("reducer", "reducer/manifest.json"), ("student", "student/manifest.json"),
         ("bundle", "bundle/manifest.json"), ("report", "report/results.json"),
         ("node", "node/windows.jsonl"))


# What a resumed run reads back from its state file (sea.schema).
STATE_FIELDS = Fields({"settings": dict, "decisions": dict,
                       "steps": MapOf(Fields({"seconds": NUMBER}, required=("seconds",)))},
                      required=("settings", "decisions", "steps"))


class QuickstartError(SeaError):
    """A quickstart step cannot run or failed; the message says which and how to go on."""


@dataclass(frozen=True)
class Settings:
    """What the outputs depend on; a re-run must use the same values to resume."""

    clips: int = 100
    seed: int = 0
    epochs: int = 5
    teacher: str = "auto"
    teacher_weights: str | None = None
    dim: int = 128
    student: str = "auto"
    filters: tuple[int, ...] | None = None
    lr: float = 1e-3
    batch_size: int = 64
    eval_hop: float = 1.0
    teacher_eval: str = "auto"

    def as_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def local_pretrained_weights() -> bool:
    """Whether any published teacher weights are cached or installed on this machine."""
    from sea.weights import WEIGHT_SOURCES, find_local

    return any(find_local(name) is not None for name in WEIGHT_SOURCES)


PAPER_DIMS = (64, 128, 256, 512)  # embedding sizes of the SEA paper's students 3..0
NARROW_BODY = (32, 64, 128)  # Student 3's first blocks; a small --clips narrows only the last
# One fixed thread count for the teacher, the distillation and the evaluation: float sums
# depend on how work is split, so it makes the headline repeat on every machine of a kind.
THREADS = 2
DEFAULT_TEACHER = "openl3-mel256-env"  # the SEA paper's teacher
SHIPPED_TEACHER = "edgel3-sea-64"  # offline: the published weights shipped with sea
DOWNLOAD_TIMEOUT_S = 10.0  # a short wait: offline machines fall back at once


def download_default_teacher() -> str | None:
    """Fetch the published OpenL3 weights (progress bar, sha256 where known) into the weights
    cache; None with the reason printed when that is not possible (offline, say)."""
    from sea.weights import WeightsUnavailable, resolve_weights

    print(f"no teacher weights on this machine: downloading {DEFAULT_TEACHER} "
          f"(timeout {DOWNLOAD_TIMEOUT_S:.0f} s)", flush=True)
    try:
        resolve_weights(DEFAULT_TEACHER, timeout=DOWNLOAD_TIMEOUT_S)
    except WeightsUnavailable as exc:
        return f"{DEFAULT_TEACHER} could not be downloaded: {exc}"
    return None


def paper_student(dim: int) -> str:
    """The SEA paper's student with a `dim`-d embedding (student0..student3)."""
    from sea.configs import MODEL_CONFIGS

    for name, cfg in MODEL_CONFIGS.items():
        if cfg.family == "student" and cfg.embedding_dim == dim:
            return name
    raise QuickstartError(f"no SEA student has a {dim}-d embedding: use --dim 64, 128, 256 or "
                          "512, or --student custom --filters A,B,C,D")


class Quickstart:
    """Runs (or resumes) the pipeline in `out` with `settings`; `sea_main` is `sea.cli.main`."""

    def __init__(self, out: str | Path, settings: Settings,
                 sea_main: Callable[[list[str]], int], overwrite: bool = False) -> None:
        self.out = Path(out)
        self.settings = settings
        self.sea_main = sea_main
        self._lock = claim_output(self.out, KIND, overwrite=overwrite,
                                  layout=(STATE_FILE, *(name for name, _ in STEPS)))
        try:
            self.state = self._load_state()
        except BaseException:
            self._lock.release()
            raise

    # -- state ---------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        path = self.out / STATE_FILE
        current = self.settings.as_json()
        if not path.is_file():  # claim_output has refused a directory of unrelated files
            return {"settings": current, "steps": {}, "decisions": {}}
        with reading(path, "quickstart state (JSON)"):
            state = json.loads(path.read_text())
        check(state, STATE_FIELDS, str(path))
        changed = {k: (state["settings"].get(k), v) for k, v in current.items()
                   if state["settings"].get(k) != v}
        if changed:
            listing = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise QuickstartError(f"{self.out} was made with other settings ({listing}); re-run "
                                  "with the same options to resume, or choose a new --out")
        return state

    def _save_state(self) -> None:
        atomic_write_json(self.out / STATE_FILE, self.state)

    def _decide(self, key: str, make: Callable[[], Any]) -> Any:
        """A decision taken once (e.g. which teacher) and kept for every resumed run."""
        if key not in self.state["decisions"]:
            self.state["decisions"][key] = make()
            self._save_state()
        return self.state["decisions"][key]

    def path(self, name: str) -> Path:
        return self.out / name

    # -- running -------------------------------------------------------------------------
    def sea(self, *argv: Any) -> None:
        args = [str(a) for a in argv]
        print(f"$ sea {' '.join(args)}", flush=True)
        code = self.sea_main(args)
        if code != 0:
            raise QuickstartError(f"`sea {' '.join(args)}` exited with status {code}; fix the "
                                  "cause above and re-run the quickstart to resume")

    def step(self, name: str, marker: str, action: Callable[[], None]) -> None:
        """Run `action` unless the step finished before and `marker` (its output) exists."""
        if name in self.state["steps"] and self.path(marker).exists():
            print(f"[{name}] already done ({self.path(marker)}), skipping", flush=True)
            return
        print(f"\n[{name}]", flush=True)
        start = time.perf_counter()
        action()
        if not self.path(marker).exists():
            raise QuickstartError(f"step {name} finished without writing {self.path(marker)}")
        self.state["steps"][name] = {"seconds": round(time.perf_counter() - start, 1)}
        self._save_state()

    def run(self) -> dict[str, Any]:
        try:
            state = self._run()
            write_manifest(self.out, KIND, self.settings.as_json(), state=STATE_FILE)
            return state
        finally:
            self._lock.release()

    def _run(self) -> dict[str, Any]:
        self._save_state()
        start = time.perf_counter()
        for name, marker in STEPS:
            self.step(name, marker, getattr(self, name))
            if name == "teacher":
                print(self.teacher_banner(), flush=True)
        self.state["headline"] = self.headline()
        self.state["last_run_seconds"] = round(time.perf_counter() - start, 1)
        self._save_state()
        return self.state

    # -- steps ---------------------------------------------------------------------------
    def store(self) -> None:
        s = self.settings
        self.sea("prepare", f"synth:{s.clips}:{s.seed}", "--out", self.path("store"))

    def teacher_args(self) -> list[str]:
        s = self.settings
        if s.teacher_weights:
            return ["--teacher", s.teacher, "--weights", str(Path(s.teacher_weights).resolve())]
        if s.teacher != "auto":
            return ["--teacher", s.teacher]
        if local_pretrained_weights():
            return ["--teacher", "auto"]
        why = download_default_teacher()
        if why is None:
            return ["--teacher", DEFAULT_TEACHER]
        self.state["decisions"]["teacher_fallback_reason"] = why
        if bundled_path(SHIPPED_TEACHER) is not None:
            # Real (published) weights beat a random-weight L3 network, even a smaller net.
            return ["--teacher", SHIPPED_TEACHER]
        return ["--teacher", f"random:{DEFAULT_TEACHER}"]  # named: the banner says why

    def teacher(self) -> None:
        args = self._decide("teacher_args", self.teacher_args)
        print(f"teacher choice: {' '.join(args)}", flush=True)
        self.sea("teacher-embed", self.path("store"), *args, "--threads", THREADS,
                 "--out", self.path("teacher"))

    def teacher_record(self) -> dict[str, Any]:
        return read_manifest(self.path("teacher"))["teacher"]

    def teacher_banner(self) -> str:
        t = self.teacher_record()
        if t["source"] == "random":
            what = (f"RANDOM weights (seed {t.get('seed')}): no pretrained weights were used, so "
                    "the student only learns to copy a random network (a pipeline test)")
        elif t["source"] == "weights":
            what = f"pretrained weights {t['path']}"
        else:
            what = f"checkpoint {t.get('path')}"
        line = "=" * 78
        why = self.state["decisions"].get("teacher_fallback_reason")
        because = f"\n because {why}" if why else ""
        return f"{line}\n TEACHER: {t['name']} - {what}{because}\n{line}"

    def target_dim_and_student(self) -> tuple[int, list[str]]:
        """(reduced dimension, `sea distill` student options) for the teacher we got."""
        from sea.configs import get_config

        s = self.settings
        teacher_config = read_manifest(self.path("teacher"))["config"]
        teacher_dim, windows = int(teacher_config["dim"]), int(teacher_config["num_rows"])
        if s.filters:
            dim, student = s.filters[-1], ["--student", "custom", "--filters",
                                           ",".join(map(str, s.filters))]
        elif s.student != "auto":
            dim, student = get_config(s.student).embedding_dim, ["--student", s.student]
        else:
            # The paper's 128-d target, unless the teacher itself is smaller (EdgeL3 SEA-64) or
            # a small --clips gives PCA fewer windows than that.
            dim = min(s.dim, teacher_dim, windows)
            narrow = ",".join(map(str, (*NARROW_BODY, dim)))
            student = (["--student", paper_student(dim)] if dim in PAPER_DIMS else
                       ["--student", "custom", "--filters", narrow])
        if dim > teacher_dim:
            raise QuickstartError(f"the student's {dim}-d embedding is wider than the teacher's "
                                  f"{teacher_dim}-d one: PCA cannot add dimensions")
        if dim > windows:
            raise QuickstartError(f"PCA to {dim} dims needs at least {dim} teacher windows and "
                                  f"--clips {s.clips} gives {windows}: use more --clips or a "
                                  "smaller student")
        return dim, student

    def reducer(self) -> None:
        dim, _ = self.target_dim_and_student()
        self.sea("reduce", self.path("teacher"), "--sampling", "random", "--reducer", "pca",
                 "--dim", dim, "--seed", self.settings.seed, "--out", self.path("reducer"))

    def student(self) -> None:
        s = self.settings
        _, student = self.target_dim_and_student()
        # --resume continues the committed epochs of an interrupted run (none: a fresh start).
        resume = ["--resume"] if self.path("student").exists() else []
        self.sea("distill", "--store", self.path("store"), "--targets", self.path("reducer"),
                 *student, "--epochs", s.epochs, "--lr", s.lr, "--batch-size", s.batch_size,
                 "--seed", s.seed, "--threads", THREADS, "--out", self.path("student"),
                 *resume)

    def bundle(self) -> None:
        bundle = self.path("bundle")
        failed = self.out / "bundle.failed-parity.json"  # what `sea export` leaves on a miss
        failed.unlink(missing_ok=True)
        # The exporter draws 3 windows per clip; keep calibration + parity within that, so
        # that a small --clips shrinks both instead of failing.
        clips = self.settings.clips
        # --overwrite: a bundle from an interrupted run of this step is redone.
        options = ["--out", bundle, "--overwrite", "--calibration", self.path("store"), "--frontend",
                   NODE_VARIANT, "--calibration-windows", min(128, max(8, 2 * clips)),
                   "--parity-windows", min(32, max(4, clips)), "--seed", self.settings.seed]
        try:
            self.sea("export", self.path("student"), "--quantize", "int8", *options)
        except QuickstartError:
            if not failed.is_file():
                raise
            # Keep the pipeline going with a bundle that does hold, and say so loudly.
            line = "!" * 78
            print(f"{line}\n int8 MISSED THE PARITY TARGETS (report: {failed});\n exporting "
                  f"float16 instead so that the pipeline can go on.\n{line}", flush=True)
            self.sea("export", self.path("student"), "--quantize", "float16", *options)

    def teacher_model_spec(self) -> str | None:
        """The teacher as a `sea evaluate --model`, or None when it should be left out."""
        s, t = self.settings, self.teacher_record()
        if s.teacher_eval == "no" or t["source"] == "random":
            return None  # a random teacher cannot be rebuilt by name, and says nothing anyway
        spec = t["path"] if t["source"] == "checkpoint" else f"{t['name']}={t['path']}"
        if s.teacher_eval == "yes":
            return spec
        manifest = read_manifest(self.path("teacher"))
        run = manifest.get("last_run") or {}
        if not run.get("windows"):
            return None
        rate = run["windows"] / max(run["seconds"], 1e-9)
        windows = manifest["config"]["num_rows"] * manifest["config"]["hop_seconds"] / s.eval_hop
        return spec if windows / rate <= TEACHER_EVAL_BUDGET_S else None

    def report(self) -> None:
        s = self.settings
        teacher = self._decide("teacher_eval_model", self.teacher_model_spec)
        # The float student next to its int8 bundle shows what quantization costs downstream.
        models = ["--model", self.path("bundle"), "--model", self.path("student")]
        if teacher:
            models += ["--model", teacher]
        else:
            print("teacher left out of the evaluation (random weights, --teacher-eval no, or "
                  "too slow for the time budget)", flush=True)
        self.sea("evaluate", *models, "--data", self.path("store"), "--protocol", PROTOCOL,
                 "--hop", s.eval_hop, "--seed", s.seed, "--threads", THREADS,
                 "--out", self.path("report"))

    def node_input(self) -> Path:
        """The store's first clip as a WAV file: what a sensor node would record."""
        import soundfile as sf

        from sea.store import ClipStore

        store = ClipStore(self.path("store"))
        clip = self.path("node") / "clip.wav"
        clip.parent.mkdir(parents=True, exist_ok=True)
        sf.write(clip, store.audio_at(0), store.sample_rate, subtype="FLOAT")
        return clip

    def node(self) -> None:
        clip = self.node_input()
        out = self.path("node") / "windows.jsonl"
        cmd = [sys.executable, "-m", "deploy.node.cli", "run", "--bundle", str(self.path("bundle")),
               "--input", str(clip), "--out", str(out)]
        print(f"$ sea-node {' '.join(cmd[3:])}", flush=True)
        done = subprocess.run(cmd)
        if done.returncode != 0:
            out.unlink(missing_ok=True)
            raise QuickstartError(f"sea-node exited with status {done.returncode}")

    # -- summary -------------------------------------------------------------------------
    def headline(self) -> dict[str, Any]:
        teacher = self.teacher_record()
        student = read_manifest(self.path("student"))
        epochs = len((self.path("student") / "history.csv").read_text().splitlines()) - 1
        bundle = read_manifest(self.path("bundle"))
        parity = bundle["parity"][NODE_VARIANT]["real"]
        results = json.loads((self.path("report") / "results.json").read_text())
        metric = results["protocol"]["metric"]
        scores = [{"model": m.get("name"), "kind": m.get("kind"), "method": key,
                   "metric": metric, "mean": r["mean"][metric], "std": r["std"][metric]}
                  for m in results["models"] for key, r in (m.get("methods") or {}).items()]
        node_lines = (self.path("node") / "windows.jsonl").read_text().splitlines()
        return {
            "teacher": {"name": teacher["name"], "source": teacher["source"],
                        "dim": read_manifest(self.path("teacher"))["config"]["dim"]},
            "student": {"name": student["config"]["name"],
                        "dim": student["config"]["filters"][-1],
                        "best_epoch": student.get("best_epoch"), "epochs": epochs,
                        "val_r2": student.get("best_r2")},
            "bundle": {"file": bundle["variants"][NODE_VARIANT]["file"],
                       "quantization": bundle["quantization"],
                       "bytes": bundle["variants"][NODE_VARIANT]["size_bytes"],
                       "float32_bytes": bundle["sizes"]["float32_bytes"],
                       "cosine_vs_float_mean": parity["mean_cosine"],
                       "cosine_vs_float_min": parity["min_cosine"]},
            "downstream": {"protocol": results["protocol"]["name"],
                           "clips": results["store"]["clips"],
                           "classes": len(results["store"]["classes"]),
                           "folds": len(results["store"]["folds"]), "scores": scores,
                           "notes": results.get("notes", [])},
            "node": {"windows": len(node_lines)},
            "versions": versions(),
        }


VERSIONED = ("sea-embed", "torch", "numpy", "scipy", "scikit-learn", "threadpoolctl",
             "litert-torch", "ai-edge-litert", "soxr")


def cpu_model() -> str:
    """The CPU's model name (Linux), else what `platform` knows: half of the machine kind."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """What produced the numbers: package versions, Python, and the machine kind (CPU model,
    the vector instructions torch uses, cores)."""
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    found = {"python": platform.python_version(), "machine": platform.machine(),
             "cpu": cpu_model(), "torch-cpu-capability": torch.backends.cpu.get_cpu_capability(),
             "cpus": str(os.cpu_count())}
    for dist in VERSIONED:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _number(x: float | None, fmt: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def summary_text(out: Path, state: dict[str, Any]) -> str:
    """The closing lines: where things are and the headline numbers."""
    h = state["headline"]
    t, st, b, d, n = h["teacher"], h["student"], h["bundle"], h["downstream"], h["node"]
    steps = ", ".join(f"{name} {state['steps'][name]['seconds']:.0f}s" for name, _ in STEPS)
    total = sum(state["steps"][name]["seconds"] for name, _ in STEPS)
    lines = [
        "=" * 78,
        f" SEA quickstart done: this run {state['last_run_seconds'] / 60:.1f} min; "
        f"steps when run: {steps} (total {total / 60:.1f} min)",
        "=" * 78,
        f"teacher      {t['name']} ({t['source']}), {t['dim']}-d",
        f"student      {st['name']} {st['dim']}-d, best epoch {st['best_epoch']} of "
        f"{st['epochs']}, validation R^2 {_number(st['val_r2'], '.3f')}",
        f"bundle       {out / 'bundle'} ({b['quantization']}): {b['file']} "
        f"{b['bytes'] / 1024:.0f} KiB (float32 weights {b['float32_bytes'] / 1024:.0f} KiB), "
        f"cosine vs float torch {b['cosine_vs_float_mean']:.5f} "
        f"(min {b['cosine_vs_float_min']:.5f})",
        f"downstream   {d['protocol']} protocol, {d['clips']} clips, {d['classes']} classes, "
        f"{d['folds']} folds:",
    ]
    from training.r2_warning import low_r2_warning

    warning = low_r2_warning(st["val_r2"])
    lines += [f"WARNING      {warning}"] if warning else []
    lines += [f"               {s['model']} {s['method']}: {s['metric']} "
              f"{s['mean']:.3f} +- {s['std']:.3f}" for s in d["scores"]]
    lines += [f"               note: {note}" for note in d["notes"]]
    lines += [
        f"report       {out / 'report' / 'index.html'} (report.md, results.json, plots/)",
        f"node output  {out / 'node' / 'windows.jsonl'} ({n['windows']} windows of "
        f"{out / 'node' / 'clip.wav'})",
        "versions     " + ", ".join(f"{k} {v}" for k, v in h.get("versions", {}).items()),
    ]
    return "\n".join(lines)
