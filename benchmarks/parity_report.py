"""How close each torch DFT path comes to EdgeL3's and OpenL3's own outputs on this CPU.

For every reference clip of ../shared/fixtures and every DFT path (rfft64, rfft, matmul) it
prints the float32 port's max abs error against the reference, its distance to the float64
port (the port's own float32 round-off on this CPU), the float64 port's distance to the
reference (the reference's own float32 error; the same on every machine) and the min
per-frame cosine. Run it on a new CPU kind to see where its FFT kernels put the float32 paths.

    python benchmarks/parity_report.py [--fixtures ../shared/fixtures] [--families edgel3 openl3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sea.framing import frame_audio
from training.checkpoint import build_model
from training.embedder import Embedder
from training.frontend import DFT_MODES

FAMILIES = {
    # family: (model, weight file, reference prefix, resampled-audio key, clips)
    "edgel3": ("edgel3-sea-64", "edgel3_sea_ust_audio_emb_64.h5", "ref_edgel3_sea64_", "audio_8k",
               ["chirp_44k", "chirp_mono", "noise_seed0", "tone440", "click"]),
    "openl3": ("openl3-mel256-env", "openl3_mel256_random_seed0.h5", "ref_openl3_mel256_random_",
               "audio_48k", ["chirp_44k", "noise_seed0", "click"]),
}


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "fixtures")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"{'path':7s} {'model':7s} {'clip':12s} {'|32-ref|':>9s} {'|32-64|':>9s} "
          f"{'|64-ref|':>9s} {'range':>6s} {'min cos':>10s}")
    for family in args.families:
        name, h5, prefix, key, clips = FAMILIES[family]
        exact_model = build_model(name, weights=args.fixtures / h5).double()
        models = {mode: build_model(name, weights=args.fixtures / h5, dft_mode=mode)
                  for mode in DFT_MODES}
        sr = exact_model.cfg.frontend.sample_rate
        for clip in clips:
            with np.load(args.fixtures / f"{prefix}{clip}.npz", allow_pickle=False) as data:
                ref, audio = data["embedding"], data[key]
            windows, _ = frame_audio(audio.astype(np.float64), sr, 0.1, center=True)
            with torch.no_grad():
                exact = exact_model(torch.from_numpy(np.ascontiguousarray(windows))).numpy()
            for mode, model in models.items():
                emb, _ = Embedder(model).embed(audio, sr, 0.1, center=True)
                print(f"{mode:7s} {family:7s} {clip:12s} {np.abs(emb - ref).max():9.4f} "
                      f"{np.abs(emb - exact).max():9.4f} {np.abs(exact - ref).max():9.4f} "
                      f"{np.abs(ref).max():6.2f} {min_cosine(emb, ref):10.8f}", flush=True)


if __name__ == "__main__":
    main()
