"""Work per window and CPU peak figures behind the roofline numbers."""

from __future__ import annotations

from sea.configs import get_config
from sea.roofline import conv_macs, cpu_peak, model_flops


def test_teacher_work_is_openl3s_10_gmac():
    macs = conv_macs(get_config("openl3-mel256-env"))
    assert len(macs) == 8
    assert macs[0] == 256 * 199 * 9 * 64 and macs[1] == 256 * 199 * 9 * 64 * 64
    assert 10.1e9 < sum(macs) < 10.3e9  # "about 10 GMAC per window" (issue 15)
    assert model_flops(get_config("edgel3-sea-64")) < model_flops(get_config("openl3-mel256-env")) / 50


def fake_cpuinfo(tmp_path, flags: str, mhz: str = "2000.000"):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: {mhz}\nflags\t\t: {flags}\n")
    return path


def test_peak_from_flags(tmp_path):
    avx2 = cpu_peak(fake_cpuinfo(tmp_path, "sse avx avx2 fma"), cores=2)
    assert (avx2.simd, avx2.fp32_flop_per_cycle, avx2.bf16_flop_per_cycle) == ("AVX2 FMA", 32, 0)
    assert avx2.gflops(2) == 2 * 32 * 2.0 and avx2.gflops(8) == avx2.gflops(2)  # capped at cores
    amx = cpu_peak(fake_cpuinfo(tmp_path, "avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile"), cores=2)
    assert amx.fp32_flop_per_cycle == 64 and amx.bf16_flop_per_cycle == 1024
    assert amx.gflops(1, "bf16") == 1024 * 2.0
