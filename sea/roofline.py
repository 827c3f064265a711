"""Work per window of an L3-family model and this CPU's peak, for roofline figures (issue 15).

`model_flops` counts the convolutions (2 FLOP per multiply-accumulate), which are >= 98 % of
the teacher's arithmetic; the frontend's FFT and the pools are left out. `cpu_peak_gflops` is
SIMD width x FMA units x 2 x cores x clock, read from /proc/cpuinfo: an upper bound that
no real convolution reaches (the clock read there is the current one, not the boost clock).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sea.configs import ModelConfig

FMA_UNITS = 2  # 2 FMA pipes per core on every x86 server core since Haswell / Zen 1
# bf16 FLOP per cycle per core: AVX512-BF16 vdpbf16ps (32 products + sums per 512-bit op on
# 2 ports); AMX TMUL (1024 bf16 FLOP per cycle per core, Intel's figure for Sapphire Rapids).
BF16_FLOP_PER_CYCLE = {"amx_bf16": 1024, "avx512_bf16": 128}


def conv_macs(cfg: ModelConfig) -> list[int]:
    """Multiply-accumulates of each 3x3 'same' conv of the body, in order."""
    h, w = cfg.input_shape
    macs, c_in = [], 1
    for block, c_out in enumerate(cfg.filters):
        macs += [h * w * 9 * c_in * c_out, h * w * 9 * c_out * c_out]
        if block < len(cfg.filters) - 1:
            h, w = h // 2, w // 2
        c_in = c_out
    return macs


def model_flops(cfg: ModelConfig) -> int:
    """FLOP of one window's convolutions (2 per MAC)."""
    return 2 * sum(conv_macs(cfg))


@dataclass(frozen=True)
class CpuPeak:
    model: str
    mhz: float
    cores: int
    fp32_flop_per_cycle: int  # per core
    bf16_flop_per_cycle: int  # per core; 0 without bf16 units
    simd: str

    def gflops(self, threads: int, precision: str = "float32") -> float:
        per_cycle = self.bf16_flop_per_cycle if precision == "bf16" else self.fp32_flop_per_cycle
        return per_cycle * min(threads, self.cores) * self.mhz / 1e3


def cpu_peak(cpuinfo: str | Path = "/proc/cpuinfo", cores: int | None = None) -> CpuPeak:
    """Peak figures of the first CPU listed in /proc/cpuinfo (x86; aarch64 counts NEON)."""
    text = Path(cpuinfo).read_text() if Path(cpuinfo).is_file() else ""

    def field(name: str) -> str:
        match = re.search(rf"^{name}\s*:\s*(.*)$", text, re.MULTILINE)
        return match.group(1).strip() if match else ""

    flags = set((field("flags") or field("Features")).split())
    if "avx512f" in flags:
        simd, lanes = "AVX-512 FMA", 16
    elif "avx2" in flags and "fma" in flags:
        simd, lanes = "AVX2 FMA", 8
    elif "asimd" in flags:
        simd, lanes = "NEON FMA", 4
    else:
        simd, lanes = "SSE", 4
    bf16 = max((v for k, v in BF16_FLOP_PER_CYCLE.items() if k in flags), default=0)
    mhz = float(field("cpu MHz") or 0.0) or 2000.0  # aarch64 lists no clock: assume 2 GHz
    return CpuPeak(model=field("model name") or "unknown", mhz=mhz,
                   cores=cores or len(os.sched_getaffinity(0)),
                   fp32_flop_per_cycle=lanes * 2 * FMA_UNITS, bf16_flop_per_cycle=bf16, simd=simd)
