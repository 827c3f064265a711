"""Build the C log-mel frontend (c/sea_logmel.c) for this machine against CMSIS-DSP's C
sources with gcc, and call it through ctypes: the MCU frontend's numerics, checked on the host.

CMSIS-DSP's sources come from `$CMSIS_DSP` or `~/.cache/sea/cmsis-dsp` (the `cmsisdsp` sdist
ships them: `pip download --no-deps --no-binary :all: cmsisdsp`, then unpack it there).
`__GNUC_PYTHON__` is the define CMSIS-DSP's own host build (its Python package) uses to drop
the CMSIS-Core dependency; the DSP code compiled is the portable C that Cortex-M4 without
Helium runs too (the M4/M7 builds add only DSP-extension intrinsics to some kernels).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from deploy.micro.frontend_header import C_SOURCES, frontend_header
from sea.configs import FrontendConfig
from sea.manifest import atomic_write_bytes

C_DIR = Path(__file__).with_name("c")
# The CMSIS-DSP files arm_rfft_fast_f32/_f64 and arm_cmplx_mag_squared_f32/_f64 need.
CMSIS_SOURCES = (
    "Source/TransformFunctions/arm_rfft_fast_f32.c",
    "Source/TransformFunctions/arm_rfft_fast_init_f32.c",
    "Source/TransformFunctions/arm_cfft_f32.c",
    "Source/TransformFunctions/arm_cfft_init_f32.c",
    "Source/TransformFunctions/arm_cfft_radix8_f32.c",
    "Source/TransformFunctions/arm_bitreversal2.c",
    "Source/CommonTables/arm_common_tables.c",
    "Source/CommonTables/arm_const_structs.c",
    "Source/ComplexMathFunctions/arm_cmplx_mag_squared_f32.c",
    "Source/TransformFunctions/arm_rfft_fast_f64.c",
    "Source/TransformFunctions/arm_rfft_fast_init_f64.c",
    "Source/TransformFunctions/arm_cfft_f64.c",
    "Source/TransformFunctions/arm_cfft_init_f64.c",
    "Source/ComplexMathFunctions/arm_cmplx_mag_squared_f64.c",
)


def cmsis_dsp_root() -> Path | None:
    """The CMSIS-DSP source tree to build against, or None when there is none here."""
    root = Path(os.environ.get("CMSIS_DSP", Path.home() / ".cache" / "sea" / "cmsis-dsp"))
    return root if (root / "Include" / "arm_math.h").is_file() else None


def build_library(cfg: FrontendConfig, mel_basis: np.ndarray, out_dir: Path,
                  cmsis: Path, f64: bool = False) -> Path:
    """Compile sea_logmel.c + CMSIS-DSP for this frontend into `out_dir/libsea_logmel.so`
    (`f64`: the SEA_FRONTEND_F64 build)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise RuntimeError("no C compiler (gcc) on PATH")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / "sea_frontend_params.h",
                       frontend_header(cfg, mel_basis, f64=f64).encode())
    library = out_dir / "libsea_logmel.so"
    command = [compiler, "-O2", "-std=c99", "-shared", "-fPIC", "-Wall", "-Werror",
               "-Wno-unused-function", "-D__GNUC_PYTHON__", "-Wl,--no-undefined",
               f"-I{out_dir}", f"-I{C_DIR}", f"-I{cmsis / 'Include'}",
               f"-I{cmsis / 'PrivateInclude'}", str(C_DIR / C_SOURCES[0]),
               *(str(cmsis / s) for s in CMSIS_SOURCES), "-lm", "-o", str(library)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building the C frontend failed:\n{result.stderr}")
    return library


class HostLogMel:
    """The compiled C frontend: windows (B, window_samples) -> (B, n_mels, n_frames) float32."""

    def __init__(self, library: Path, cfg: FrontendConfig):
        self.cfg = cfg
        self.lib = ctypes.CDLL(str(library))
        self.fft = ctypes.create_string_buffer(256)  # > sizeof(sea_rfft_instance)
        if self.lib.sea_logmel_init(self.fft) != 0:
            raise RuntimeError("arm_rfft_fast_init_f32 refused the FFT size")
        work = 2 * cfg.n_fft + cfg.n_fft // 2 + 1  # SEA_WORK_LEN sea_reals, either precision
        self.work = np.zeros(work, np.float64)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.ascontiguousarray(np.atleast_2d(windows), dtype=np.float32)
        out = np.zeros((len(windows), self.cfg.n_mels, self.cfg.n_frames), np.float32)
        for window, image in zip(windows, out):
            self.lib.sea_logmel(self.fft, window.ctypes.data_as(ctypes.c_void_p),
                                self.work.ctypes.data_as(ctypes.c_void_p),
                                image.ctypes.data_as(ctypes.c_void_p))
        return out

    def quantize(self, logmel: np.ndarray, gain: float, offset: float,
                 zero_point: int) -> np.ndarray:
        image = np.ascontiguousarray(logmel, dtype=np.float32)
        out = np.zeros(image.shape, np.int8)
        self.lib.sea_quantize(image.ctypes.data_as(ctypes.c_void_p), ctypes.c_float(gain),
                              ctypes.c_float(offset), ctypes.c_int32(zero_point),
                              out.ctypes.data_as(ctypes.c_void_p))
        return out
