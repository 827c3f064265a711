"""`sea export --target micro`: from a finished int8 bundle, the files a TFLM firmware needs.

Written to `<bundle>/micro/` (assembled in a temporary directory, moved into place only when
the model runs in tflite-micro, meets its parity targets and fits the chosen board):
  model_int8.tflite      fully integer: int8 log-mel in, int8 embedding out
  model_data.cc/.h       the model as an aligned C array, input rule, output scales, arena
  sea_op_resolver.h      MicroMutableOpResolver with exactly the kernels the model uses
  sea_frontend_params.h  window, sparse mel matrix and dB rule of the bundle's frontend
  sea_logmel.c/.h        the log-mel frontend on CMSIS-DSP's arm_rfft_fast_f32
  manifest.json          ops, arena, budget per board, parity, sha256 of every file
Parity: the tflite-micro interpreter on the micro model vs the TFLite int8 bundle on TFLite's
builtin kernels (cosine >= 0.999 per window: the same integer kernels, differing only in where
the input is quantized) and vs the float torch model (mean cosine >= 0.99, the int8 target of
the desktop export). The bundle as a node runs it (XNNPACK, whose int8 requantization rounds
differently) is reported beside them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from deploy.arena import tflm_arena_bytes
from deploy.micro import budget, csource
from deploy.micro.frontend_header import C_SOURCES, frontend_header, real_bytes, table_bytes
from deploy.micro.integer_model import InputRule, fully_integer, op_names
from deploy.parity import QUANTIZED_MEAN_COSINE, agreement, compare
from sea.bundle import BundleEmbedder
from sea.errors import SeaError
from sea.manifest import atomic_write_bytes, atomic_write_json, sha256_file, write_manifest
from sea.models import ModelKind
from sea.quantization import Quantization
from sea.safe_write import atomic_directory

MICRO_DIR = "micro"
REFUSED_FILE = "micro-refused.json"
MICRO_KIND = ModelKind.MICRO.artifact
MICRO_MODEL = "model_int8.tflite"
C_DIR = Path(__file__).with_name("c")
TFLITE_MIN_COSINE = 0.999
FLOAT_MEAN_COSINE = QUANTIZED_MEAN_COSINE  # the desktop int8 export target


class MicroBuildError(SeaError):
    """The model cannot be built for the microcontroller (the message and report say why)."""


class TFLMModel:
    """The tflite-micro interpreter on a fully integer model: float log-mel in, float out."""

    def __init__(self, path: Path, rule: InputRule, output_q: tuple[float, int],
                 arena_bytes: int):
        from tflite_micro import runtime

        self.interpreter = runtime.Interpreter.from_file(str(path), arena_size=arena_bytes)
        self.input_shape = tuple(int(s) for s in self.interpreter.get_input_details(0)["shape"])
        self.rule, self.output_q = rule, output_q

    def __call__(self, logmel: np.ndarray) -> np.ndarray:
        self.interpreter.set_input(self.rule.apply(logmel).reshape(self.input_shape), 0)
        self.interpreter.invoke()
        q = self.interpreter.get_output(0).astype(np.float32).reshape(-1)
        return (q - self.output_q[1]) * np.float32(self.output_q[0])


def micro_parity(tflm: TFLMModel, bundle_dir: str | Path, reference: np.ndarray,
                 windows: np.ndarray) -> dict:
    """TFLM vs the int8 bundle (builtin kernels, gated; node's XNNPACK run, reported) and vs
    `reference`, the float model's embeddings of `windows`."""
    builtin = BundleEmbedder(bundle_dir, variant="outside", reference_kernels=True)
    micro = builtin.bundle.embedding(np.stack([tflm(x) for x in builtin.frontend(windows)]))
    node = BundleEmbedder(bundle_dir, variant="outside").embed_windows(windows)
    report = {"windows": int(len(windows)),
              "vs_tflite_int8": agreement(builtin.embed_windows(windows), micro),
              "vs_tflite_int8_xnnpack": agreement(node, micro),
              "vs_float": compare(reference, micro)}
    failures = []
    if report["vs_tflite_int8"]["min_cosine"] < TFLITE_MIN_COSINE:
        failures.append(f"TFLM vs TFLite int8 min cosine "
                        f"{report['vs_tflite_int8']['min_cosine']:.5f} < {TFLITE_MIN_COSINE}")
    if report["vs_float"]["mean_cosine"] < FLOAT_MEAN_COSINE:
        failures.append(f"TFLM vs float mean cosine {report['vs_float']['mean_cosine']:.5f} "
                        f"< {FLOAT_MEAN_COSINE}")
    report["failures"] = failures
    return report


def frontend_ram_bytes(n_fft: int, n_mels: int, n_frames: int, f64: bool = False) -> int:
    """sea_logmel's buffers: SEA_WORK_LEN sea_reals and the float image (sea_logmel.h)."""
    return real_bytes(f64) * (2 * n_fft + n_fft // 2 + 1) + 4 * n_mels * n_frames


def build_micro(bundle_dir: str | Path, reference: np.ndarray, windows: np.ndarray,
                board: str = "stm32h7") -> dict:
    """Write `<bundle_dir>/micro/`; `reference`: the float model's embeddings of `windows`.
    Raises MicroBuildError (after writing `<bundle_dir>/micro-refused.json`) on failure."""
    bundle_dir = Path(bundle_dir)
    embedder = BundleEmbedder(bundle_dir, variant="outside")
    entry = embedder.bundle.manifest["variants"]["outside"]
    if Quantization.of_manifest(embedder.bundle.manifest) is not Quantization.INT8:
        raise MicroBuildError(f"{bundle_dir} is not an int8 bundle: a micro build needs one")
    if board not in budget.BOARDS:
        raise MicroBuildError(f"unknown board {board!r}; known: {', '.join(budget.BOARDS)}")
    fe = embedder.cfg.frontend
    model, rule, output_q = fully_integer((bundle_dir / entry["file"]).read_bytes())
    refused = bundle_dir / REFUSED_FILE
    refused.unlink(missing_ok=True)
    with atomic_directory(bundle_dir / MICRO_DIR) as work:
        atomic_write_bytes(work / MICRO_MODEL, model)
        arena = tflm_arena_bytes(work / MICRO_MODEL)
        if arena is None:
            raise MicroBuildError("tflite-micro cannot run the int8 model (an op it lacks, or "
                                  "tflite-micro is not installed: pip install tflite-micro)")
        tflm = TFLMModel(work / MICRO_MODEL, rule, output_q, arena)
        parity = micro_parity(tflm, bundle_dir, reference, windows)
        f64 = budget.BOARDS[board].double_fpu  # the frontend precision the header selects
        header = frontend_header(fe, embedder.frontend.mel_basis, f64=f64)
        ops = op_names(model)
        report = budget.budget_report(
            flash={"model": len(model),
                   "frontend_tables": table_bytes(fe, embedder.frontend.mel_basis, f64)},
            ram={"arena": arena, "frontend_buffers": frontend_ram_bytes(
                fe.n_fft, fe.n_mels, fe.n_frames, f64)})
        report["chosen_board"] = board
        report["frontend_precision"] = "float64" if f64 else "float32"
        problems = list(parity["failures"])
        if not report["boards"][board]["fits"]:
            problems.append(f"does not fit {board}: " + budget.describe(report)[
                list(report["boards"]).index(board)].strip())
        if problems:
            atomic_write_json(refused, {"problems": problems, "budget": report,
                                        "parity": parity, "ops": ops})
            raise MicroBuildError(f"micro build refused (report: {refused}): "
                                  + "; ".join(problems))
        atomic_write_bytes(work / "model_data.cc", csource.model_source(model).encode())
        atomic_write_bytes(work / "model_data.h", csource.model_header(
            rule, output_q, tflm.input_shape, embedder.bundle.output_scale,
            embedder.bundle.output_offset, arena).encode())
        atomic_write_bytes(work / "sea_op_resolver.h", csource.op_resolver(ops).encode())
        atomic_write_bytes(work / "sea_frontend_params.h", header.encode())
        for name in C_SOURCES:
            shutil.copyfile(C_DIR / name, work / name)
        files = {p.name: sha256_file(p) for p in sorted(work.iterdir())}
        manifest = write_manifest(
            work, MICRO_KIND, embedder.cfg.to_dict(), model_name=embedder.cfg.name,
            model=MICRO_MODEL, ops=ops, arena_bytes=arena, arena_method="tflite-micro",
            input_rule={"gain": rule.gain, "offset": rule.offset,
                        "zero_point": rule.zero_point},
            output_quantization={"scale": output_q[0], "zero_point": output_q[1]},
            budget=report, parity=parity, files=files,
            source_bundle={"path": str(bundle_dir.resolve()), "variant_sha256": entry["sha256"]})
    return manifest

