"""`sea reduce`: reducers round-trip through their artifact; targets match; errors are clear."""

from __future__ import annotations

import numpy as np
import pytest

from sea.cli import main
from sea.embedding_store import EmbeddingStore
from sea.reducer import TARGETS_FILE, load_reducer
from sea.manifest import read_manifest


@pytest.fixture(scope="module")
def emb(embed_store_cli, tmp_path_factory):
    return embed_store_cli(tmp_path_factory.mktemp("emb") / "emb", 0.25, "--shard-rows", "32")


def reduce(emb, out, *argv) -> int:
    return main(["reduce", str(emb), "--out", str(out), *argv])


@pytest.mark.parametrize("reducer, dim", [("pca", 6), ("incremental-pca", 4),
                                          ("random-projection", 5), ("identity", None),
                                          pytest.param("umap", 2, marks=pytest.mark.slow)])
def test_reducer_round_trip(emb, tmp_path, reducer, dim):
    argv = ["--reducer", reducer, "--n-fit", "80", "--sampling", "loudness"]
    assert reduce(emb, tmp_path / "red", *argv, *(["--dim", str(dim)] if dim else [])) == 0
    manifest = read_manifest(tmp_path / "red", kind="reducer")
    embeddings = EmbeddingStore(emb).all()
    targets = np.load(tmp_path / "red" / TARGETS_FILE)
    assert targets.shape == (len(embeddings), dim or embeddings.shape[1])
    assert manifest["sampling"]["n_fit"] == 80 and manifest["fit"]["fit_seconds"] >= 0
    loaded = load_reducer(tmp_path / "red", allow_pickle=reducer == "umap")  # made here: trusted
    assert loaded.reducer_id == manifest["reducer_id"]
    np.testing.assert_allclose(loaded.transform(embeddings), targets, rtol=1e-4, atol=1e-4)
    if reducer in ("pca", "incremental-pca"):
        ratio = manifest["fit"]["explained_variance_ratio"]
        assert len(ratio) == dim and 0 < manifest["fit"]["explained_variance"] <= 1
    if reducer != "umap":  # linear maps are plain numpy: (x - mean) @ components.T
        with np.load(tmp_path / "red" / manifest["params_file"]) as params:
            if reducer == "identity":
                np.testing.assert_array_equal(targets, embeddings)
            else:
                manual = (embeddings - params["mean"]) @ params["components"].T
                np.testing.assert_allclose(manual, targets, rtol=1e-4, atol=1e-4)


def test_pca_matches_full_rank_reconstruction(emb, tmp_path):
    """With every window fitted, PCA targets hold all of the embeddings' variance."""
    embeddings = EmbeddingStore(emb).all()
    dim = embeddings.shape[1]
    assert reduce(emb, tmp_path / "red", "--reducer", "pca", "--dim", str(dim),
                  "--n-fit", str(len(embeddings))) == 0
    targets = np.load(tmp_path / "red" / TARGETS_FILE)
    np.testing.assert_allclose(targets.var(axis=0).sum(), embeddings.var(axis=0).sum(),
                               rtol=1e-3)


def test_tampered_reducer_is_refused(emb, tmp_path):
    assert reduce(emb, tmp_path / "red", "--reducer", "pca", "--dim", "3", "--n-fit", "50") == 0
    path = tmp_path / "red" / "reducer.npz"
    path.write_bytes(path.read_bytes()[:-8] + b"corrupt!")
    with pytest.raises(ValueError, match="damaged"):
        load_reducer(tmp_path / "red")


@pytest.mark.parametrize("argv, message", [
    (["--reducer", "identity", "--dim", "3"], "identity reducer keeps all"),
    (["--reducer", "pca"], "positive --dim"),
    (["--reducer", "pca", "--dim", "999"], "at most"),
    (["--reducer", "pca", "--dim", "2", "--n-fit", "0"], "--n-fit: must be at least 1"),
])
def test_bad_arguments_are_explained(emb, tmp_path, caplog, capsys, argv, message):
    assert reduce(emb, tmp_path / "red", *argv) == 2
    assert message in caplog.text + capsys.readouterr().err  # argparse errors go to stderr


def test_incomplete_embeddings_are_refused(emb, tmp_path, caplog):
    assert reduce(tmp_path / "missing", tmp_path / "red", "--reducer", "identity") == 2
    assert f"{tmp_path / 'missing'} does not exist" in caplog.text
