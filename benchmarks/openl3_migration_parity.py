"""How far `sea.openl3` is from openl3 0.4.2's own outputs, per clip and resampler.

    python benchmarks/openl3_migration_parity.py [--shared ../shared]

Runs openl3-style calls (`import sea.openl3 as openl3`) on the WAV files of the shared
fixtures, read as openl3 reads them, with the seeded OpenL3-layout weights, and compares with
the reference outputs made by OpenL3's own code (fixtures/PROVENANCE.md): window count,
timestamps, the largest |difference| as a fraction of the embedding's range, the smallest
cosine per window. resampy is openl3's resampler (the default here); soxr is sea's own default.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

import sea
import sea.openl3 as openl3
from sea.errors import SeaWarning

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = ("click", "chirp_44k", "noise_seed0")


def cosine_min(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    fixtures = args.shared / "fixtures"
    model = sea.load_model(f"openl3-mel256-env={fixtures / 'openl3_mel256_random_seed0.h5'}")
    print("| clip | resampler | windows | timestamps equal | max |diff| / range | min cosine |")
    print("|---|---|---:|---|---:|---:|")
    for clip in CLIPS:
        ref = np.load(fixtures / f"ref_openl3_mel256_random_{clip}.npz", allow_pickle=False)
        audio, sr = sf.read(fixtures / "audio" / f"{clip}.wav")
        for resampler in ("resampy", "soxr") if sr != 48000 else ("none (48 kHz)",):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SeaWarning)  # the click is shorter than 1 s
                emb, ts = openl3.get_audio_embedding(
                    audio, sr, model=model, content_type="env", embedding_size=512, verbose=0,
                    resampler=resampler if sr != 48000 else "resampy")
            diff = np.abs(emb - ref["embedding"]).max() / np.abs(ref["embedding"]).max()
            print(f"| {clip} | {resampler} | {len(emb)} | {np.array_equal(ts, ref['timestamps'])}"
                  f" | {diff:.1e} | {cosine_min(emb, ref['embedding']):.6f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
