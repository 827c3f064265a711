"""Flash and RAM of a micro build against named boards.

Flash: the model flatbuffer plus the frontend's constant tables. RAM: the TFLM tensor arena
(measured by the tflite-micro interpreter) plus the frontend's float buffers. A fixed reserve
stands for what this build does not measure: the TFLM runtime and kernels, the frontend's code
with CMSIS-DSP's FFT, the application, stack and audio buffers. The reserve is an assumption,
stated in every report. Its known parts: the frontend's code, window, mel tables and CMSIS-DSP
FFT link to 22 KiB (float32, Cortex-M4) or 35 KiB (float64, Cortex-M7) with arm-none-eabi-gcc
12.2 -Os (benchmarks/micro_frontend_size.py); TFLM's documentation gives 16 KB for its core
runtime on a Cortex-M3; the six kernels and the application are not measured here.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    flash_bytes: int
    ram_bytes: int
    double_fpu: bool  # float64 in hardware: the C frontend defaults to its float64 build


BOARDS = {
    "stm32h7": Board("stm32h7", "STM32H7 (Cortex-M7, the SEA paper's target)", 2048 * KIB,
                     1024 * KIB, double_fpu=True),
    "cortex-m4": Board("cortex-m4", "Cortex-M4 class, 1 MB flash / 256 KB RAM (e.g. nRF52840)",
                       1024 * KIB, 256 * KIB, double_fpu=False),
}
RESERVE_FLASH_BYTES = 160 * KIB  # TFLM + kernels + CMSIS-DSP tables + application (assumed)
RESERVE_RAM_BYTES = 32 * KIB  # stack, heap, audio ring buffer (assumed)


def fits(board: Board, flash: int, ram: int) -> dict:
    """The budget of one board: what is used, what is left, and whether it fits."""
    flash_total = flash + RESERVE_FLASH_BYTES
    ram_total = ram + RESERVE_RAM_BYTES
    return {"board": board.name, "description": board.description,
            "flash_bytes": board.flash_bytes, "ram_bytes": board.ram_bytes,
            "flash_used_bytes": flash_total, "ram_used_bytes": ram_total,
            "flash_left_bytes": board.flash_bytes - flash_total,
            "ram_left_bytes": board.ram_bytes - ram_total,
            "fits": flash_total <= board.flash_bytes and ram_total <= board.ram_bytes}


def budget_report(flash: dict[str, int], ram: dict[str, int]) -> dict:
    """`flash`/`ram`: named byte counts (model, tables, arena, buffers); every board judged."""
    flash_sum, ram_sum = sum(flash.values()), sum(ram.values())
    return {"flash_parts_bytes": flash, "ram_parts_bytes": ram,
            "reserve": {"flash_bytes": RESERVE_FLASH_BYTES, "ram_bytes": RESERVE_RAM_BYTES,
                        "note": "assumed, not measured: TFLM runtime and kernels, CMSIS-DSP "
                                "tables, application code, stack, audio buffers"},
            "boards": {name: fits(board, flash_sum, ram_sum) for name, board in BOARDS.items()}}


def describe(report: dict) -> list[str]:
    """One line per board, for the console."""
    lines = []
    for b in report["boards"].values():
        lines.append(f"{b['board']:>10}: flash {b['flash_used_bytes'] / KIB:.0f} / "
                     f"{b['flash_bytes'] / KIB:.0f} KiB, RAM {b['ram_used_bytes'] / KIB:.0f} / "
                     f"{b['ram_bytes'] / KIB:.0f} KiB (incl. reserve) -> "
                     f"{'fits' if b['fits'] else 'DOES NOT FIT'}")
    return lines
