"""Worker of compare.py that runs the ORIGINAL code (OpenL3 0.4.2 / EdgeL3 0.2.1 on TF 2.15).

Runs inside the original stack's venv (original_env.py), never imports sea. Line protocol on
stdin/stdout, so that compare.py can alternate workers round by round:
  start-up: loads the model, embeds the real clips (saved to --real-out), warms up, prints
            `ready`;
  `run`   : embeds the timing audio once, prints {"seconds": s, "windows": n} (JSON);
  `quit`  : exits.
Audio arrives already at the model's rate, so neither resampler runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def set_threads(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def openl3_embedder(weights: str):
    import openl3
    from openl3.models import load_audio_embedding_model_from_path

    model = load_audio_embedding_model_from_path(weights, "mel256", 512, frontend="kapre")

    def embed(audio: np.ndarray, sr: int) -> np.ndarray:
        emb, _ = openl3.get_audio_embedding(audio, sr, model=model, center=True, hop_size=0.1,
                                            batch_size=32, frontend="kapre", verbose=0)
        return emb

    return embed


def edgel3_embedder(weights: str):
    import shutil
    from pathlib import Path

    import edgel3
    from edgel3.models import load_embedding_model

    # EdgeL3's loader reads its weights from its package folder (our scratch copy of the
    # source), where its setup.py would have downloaded them
    target = Path(edgel3.__file__).parent / Path(weights).name
    if not target.is_file():
        shutil.copyfile(weights, target)
    model = load_embedding_model("sea", emb_dim=64, retrain_type="ft", sparsity=95.45)

    def embed(audio: np.ndarray, sr: int) -> np.ndarray:
        emb, _ = edgel3.get_embedding(audio, sr, model=model, model_type="sea", emb_dim=64,
                                      center=True, hop_size=0.1, verbose=0)
        return emb

    return embed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("openl3", "edgel3"), required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--audio", required=True, help="npz: timing (1-D), real_0.. (1-D), sr")
    parser.add_argument("--real-out", required=True)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    set_threads(args.threads)
    embed = (openl3_embedder if args.model == "openl3" else edgel3_embedder)(args.weights)
    with np.load(args.audio, allow_pickle=False) as data:
        sr, timing = int(data["sr"]), data["timing"]
        real = [data[k] for k in sorted((k for k in data.files if k.startswith("real_")),
                                          key=lambda k: int(k[5:]))]
    real_embeddings = [embed(clip, sr) for clip in real]
    np.savez(args.real_out, *real_embeddings)
    embed(timing[:sr], sr)  # warm-up: graph tracing, oneDNN primitives
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        start, cpu = time.perf_counter(), time.process_time()
        windows = len(embed(timing, sr))
        print(json.dumps({"seconds": time.perf_counter() - start, "windows": windows,
                          "cpu_seconds": time.process_time() - cpu}), flush=True)


if __name__ == "__main__":
    main()
