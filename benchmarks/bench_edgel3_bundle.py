"""EdgeL3 SEA-64 (published weights) as TFLite bundles: parity with torch and the reference.

Exports float32 and int8 bundles (both graph variants) of `edgel3-sea-64` with the fixture
weights, then compares, on the fixture clips' `audio_8k` framed as EdgeL3 does (centred, hop
0.1 s): TFLite vs the torch model, and TFLite vs the authoritative EdgeL3 embeddings
(PROVENANCE.md: a float32 port cannot match those end to end better than about 0.02 abs).

    python benchmarks/bench_edgel3_bundle.py [--store STORE] [--work DIR]

--store: a clip store for calibration/parity windows (e.g. built with
`sea prepare urban-eval:<shared>/data/urban-eval --out STORE`); synthetic scenes otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from deploy.exporter import export_bundle, torch_embed
from deploy.parity import compare
from deploy.representative import generated_windows, store_windows
from deploy.settings.export import ExportSettings
from sea.bundle import BundleEmbedder
from sea.framing import frame_audio
from training.checkpoint import build_model

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
CLIPS = ("chirp_44k", "chirp_mono", "noise_seed0", "tone440", "click")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgel3-bundles-"))
    weights = FIXTURES / "edgel3_sea_ust_audio_emb_64.h5"
    model = build_model("edgel3-sea-64", weights=weights, dft_mode="matmul")
    windows = (store_windows(args.store, 8000, 160) if args.store
               else generated_windows(8000, 160))
    refs = {c: np.load(FIXTURES / f"ref_edgel3_sea64_{c}.npz", allow_pickle=False) for c in CLIPS}
    framed = {c: frame_audio(r["audio_8k"], 8000, 0.1, True)[0] for c, r in refs.items()}
    all_windows = np.concatenate(list(framed.values())).astype(np.float32)
    reference = np.concatenate([refs[c]["embedding"] for c in CLIPS])
    torch_out = torch_embed(model, all_windows)
    print(f"windows: {windows.source}; fixture windows: {len(all_windows)}")
    print(f"torch vs EdgeL3 reference: {fmt(compare(reference, torch_out))}")
    for quantize in ("none", "int8"):
        out = work / f"edgel3-sea-64-{quantize}"
        if not (out / "manifest.json").is_file():
            export_bundle(ExportSettings(model="edgel3-sea-64", weights=str(weights), out=out,
                                         quantize=quantize), model, windows)
        for variant in ("outside", "in-graph"):
            embedder = BundleEmbedder(out, variant=variant)
            emb = embedder.embed_windows(all_windows)
            print(f"{quantize:>5} {variant:>9} ({embedder.size_bytes / 1024:.0f} KiB): "
                  f"vs torch {fmt(compare(torch_out, emb))} | "
                  f"vs reference {fmt(compare(reference, emb))}")
    print(f"bundles in {work}")


def fmt(c: dict) -> str:
    return (f"cos mean {c['mean_cosine']:.6f} min {c['min_cosine']:.6f} "
            f"max|diff| {c['max_abs_diff']:.4f} (max|ref| {c['max_abs_reference']:.1f})")


if __name__ == "__main__":
    main()
