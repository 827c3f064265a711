"""Flash and RAM of the C log-mel frontend on Cortex-M, measured with arm-none-eabi-gcc: the
part of the micro budget's reserve that this project's own code and CMSIS-DSP take.

    python benchmarks/micro_frontend_size.py [--cmsis DIR]

Links, for a Cortex-M4 (float32 build, fpv4-sp-d16) and a Cortex-M7 (float64 build,
fpv5-d16), a bare-metal program that calls sea_logmel_init, sea_logmel and sea_quantize on
static buffers, and the same program without those calls; the difference in `size` (text +
data = flash, data + bss = static RAM) is the frontend: code, window, mel tables and the
CMSIS-DSP FFT code and twiddle tables it pulls in (-Os, --gc-sections, newlib-nano); both
programs hold the audio, work and image buffers, whose size is printed apart. CMSIS-DSP
is compiled in its portable C (`__GNUC_PYTHON__`, no CMSIS-Core headers in the sdist), as in
the host build. Needs the Debian packages gcc-arm-none-eabi and libnewlib-arm-none-eabi.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.micro.frontend_header import frontend_header
from deploy.micro.host_frontend import C_DIR, CMSIS_SOURCES, cmsis_dsp_root
from sea.configs import SEA_FRONTEND
from sea.frontend import default_mel_basis

TARGETS = {  # name: (gcc CPU flags, float64 frontend)
    "cortex-m4 (float32 frontend)": (["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"], False),
    "cortex-m7 (float64 frontend)": (["-mcpu=cortex-m7", "-mfpu=fpv5-d16"], True),
}
MAIN = r"""
#include "sea_logmel.h"
static float audio[SEA_WINDOW_SAMPLES], logmel[SEA_LOGMEL_SIZE];
static sea_real work[SEA_WORK_LEN];
static int8_t input[SEA_LOGMEL_SIZE];
volatile int sink;
int main(void) {
#if WITH_FRONTEND
    sea_rfft_instance fft;
    sink = sea_logmel_init(&fft);
    sea_logmel(&fft, audio, work, logmel);
    sea_quantize(logmel, 1.0f, 0.0f, 0, input);
#endif
    /* the buffers exist in both programs: the difference is code and tables */
    audio[sink] = 1.0f; logmel[sink] = 1.0f; work[sink] = 1.0f; input[sink] = 1;
    sink += input[sink] + (int)audio[sink] + (int)logmel[sink] + (int)work[sink];
    return 0;
}
"""


def size(gcc: str, flags: list[str], sources: list[str], includes: list[str],
         out: Path) -> dict[str, int]:
    command = [gcc, *flags, "-mthumb", "-mfloat-abi=hard", "-Os", "-std=c99",
               "-ffunction-sections", "-fdata-sections", "-D__GNUC_PYTHON__",
               *(f"-I{i}" for i in includes), *sources, "--specs=nano.specs",
               "--specs=nosys.specs", "-Wl,--gc-sections", "-lm", "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    text = subprocess.run([gcc.replace("gcc", "size"), "-A", str(out)], check=True,
                          capture_output=True, text=True).stdout
    sections = {line.split()[0]: int(line.split()[1]) for line in text.splitlines()
                if line.startswith(".") and len(line.split()) >= 2}
    flash = sum(v for k, v in sections.items() if k in (".text", ".rodata", ".data"))
    ram = sum(v for k, v in sections.items() if k in (".data", ".bss"))
    return {"flash": flash, "ram": ram}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cmsis", type=Path, default=cmsis_dsp_root())
    args = parser.parse_args()
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None or args.cmsis is None:
        print("needs arm-none-eabi-gcc (apt: gcc-arm-none-eabi libnewlib-arm-none-eabi) and "
              "CMSIS-DSP sources (see deploy/micro/host_frontend.py)", file=sys.stderr)
        return 2
    version = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout
    print(version.splitlines()[0])
    cfg = SEA_FRONTEND
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "main.c").write_text(MAIN)
        includes = [str(tmp), str(C_DIR), str(args.cmsis / "Include"),
                    str(args.cmsis / "PrivateInclude")]
        cmsis = [str(args.cmsis / s) for s in CMSIS_SOURCES]
        for name, (cpu, f64) in TARGETS.items():
            (tmp / "sea_frontend_params.h").write_text(
                frontend_header(cfg, default_mel_basis(cfg), f64=f64))
            sources = [str(tmp / "main.c"), str(C_DIR / "sea_logmel.c"), *cmsis]
            with_fe = size(gcc, [*cpu, "-DWITH_FRONTEND=1"], sources, includes, tmp / "a.elf")
            without = size(gcc, [*cpu, "-DWITH_FRONTEND=0"], sources, includes, tmp / "b.elf")
            print(f"{name}: SEA frontend (n_fft {cfg.n_fft}, {cfg.n_mels} mels) flash "
                  f"{(with_fe['flash'] - without['flash']) / 1024:.1f} KiB, static RAM "
                  f"{(with_fe['ram'] - without['ram']) / 1024:.1f} KiB; buffers "
                  f"{without['ram'] / 1024:.1f} KiB RAM (whole program "
                  f"{with_fe['flash'] / 1024:.1f} KiB flash / {with_fe['ram'] / 1024:.1f} KiB RAM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
