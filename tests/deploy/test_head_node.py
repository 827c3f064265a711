"""The head round trip: `sea head fit` -> `sea export --head` -> `sea-node run --period`
gives the probabilities `sea evaluate`'s classifier gives; the period aggregation itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from deploy.node.runner import PeriodAggregator
from sea.bundle import ClassifierHead
from sea.store import ClipStore, StoreWriter

RATE = 8000
CLASSES = {"low": 300.0, "mid": 1200.0, "high": 2500.0}


def random_head(path, activation: str = "softmax", dim: int = 4, labels=("a", "b", "c")):
    rng = np.random.default_rng(0)
    np.savez(path, weights_0=rng.standard_normal((dim, len(labels))).astype(np.float32),
             bias_0=rng.standard_normal(len(labels)).astype(np.float32),
             labels=np.array(labels), activation=np.array(activation))
    return ClassifierHead(path)


def test_periods_pool_windows_as_evaluation_pools_clips(tmp_path):
    head = random_head(tmp_path / "head.npz")
    emb = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    agg = PeriodAggregator(head, windows=3)
    done = [p for i in range(8) for p in agg.add(i, emb[i], (float(i), 10))]
    done.append(agg.flush())
    assert [(p.start_index, p.end_index) for p in done] == [(0, 2), (3, 5), (6, 7)]
    for p in done:
        rows = emb[p.start_index:p.end_index + 1]
        np.testing.assert_allclose(p.scores, head(rows.mean(axis=0)[None])[0], atol=1e-6)
        assert p.mean_square == pytest.approx(sum(range(p.start_index, p.end_index + 1))
                                              / (10 * len(rows)))
    assert agg.flush() is None


def test_max_and_mil_pooling_and_gaps(tmp_path):
    head = random_head(tmp_path / "head.npz", activation="sigmoid")
    emb = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    max_agg = PeriodAggregator(head, 6, pooling="max")
    mil = PeriodAggregator(head, 6, pooling="mil", mil_aggregate="mean")
    for i in range(6):
        last_max, last_mil = max_agg.add(i, emb[i]), mil.add(i, emb[i])
    np.testing.assert_allclose(last_max[0].scores, head(emb.max(axis=0)[None])[0], atol=1e-6)
    np.testing.assert_allclose(last_mil[0].scores, head(emb).mean(axis=0), atol=1e-6)
    gap = PeriodAggregator(head, 4)
    assert gap.add(1, emb[0]) == []
    ended = gap.add(5, emb[1])  # window 5 is in the next period: the first one ends
    assert [(p.start_index, p.end_index) for p in ended] == [(1, 1)]


def write_labelled_store(path, folds=("1", "2"), per_class: int = 3, seconds: float = 2.0):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    with StoreWriter(path, sample_rate=RATE) as writer:
        for fold in folds:
            for label, freq in CLASSES.items():
                for k in range(per_class):
                    audio = (0.3 * np.sin(2 * np.pi * freq * rng.uniform(0.9, 1.1) * t)
                             + 0.05 * rng.standard_normal(len(t)))
                    writer.add(f"{fold}-{label}-{k}", audio.astype(np.float32),
                               source=f"{label}{k}", dataset="gen", labels=(label,), fold=fold)
    return path


@pytest.fixture(scope="module")
def labelled_store(tmp_path_factory):
    return write_labelled_store(tmp_path_factory.mktemp("labelled") / "store")


@pytest.mark.slow
def test_fit_export_node_round_trip(tmp_path, tiny_checkpoint, labelled_store):
    from deploy.node.cli import main as node
    from sea.cli import main as sea
    from training.evaluate.embedding_cache import cache_dir, load_or_compute
    from sea.models import model_id, parse_model
    from training.evaluate.protocols import PROTOCOLS, select
    from training.evaluate.runner import Method, fit_classifier, predict_clips

    cache, head, bundle = tmp_path / "cache", tmp_path / "head", tmp_path / "bundle"
    assert sea(["head", "fit", "--model", str(tiny_checkpoint), "--data", str(labelled_store),
                "--out", str(head), "--hop", "0.5", "--cache", str(cache),
                "--no-progress"]) == 0
    assert sea(["export", str(tiny_checkpoint), "--out", str(bundle), "--frontend", "outside",
                "--head", str(head), "--calibration", str(labelled_store),
                "--parity-windows", "4"]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["head"]["model_id"] == manifest["sources"]["model_id"]
    assert manifest["head"]["pooling"] == "mean"

    store = ClipStore(labelled_store)
    clips = tmp_path / "clips"
    clips.mkdir()
    for pos, record in enumerate(store.records):
        sf.write(clips / f"{record.clip_id}.wav", store.audio_at(pos), RATE, subtype="FLOAT")
    out = tmp_path / "node.jsonl"
    assert node(["run", "--bundle", str(bundle), "--input", str(clips), "--hop", "0.5",
                 "--period", "3600", "--top-k", "3", "--no-embeddings", "--out",
                 str(out)]) == 0
    periods = {}
    for line in map(json.loads, out.read_text().splitlines()):
        if line.get("type") == "period":
            periods[line["source"].rsplit("/", 1)[-1][:-4]] = dict(line["top"])

    # sea evaluate's classifier, fitted on the same cached embeddings, scoring every clip
    evalset = select(store, PROTOCOLS["folds"])
    spec = parse_model(str(tiny_checkpoint))
    emb = load_or_compute(store, None, cache_dir(cache, model_id(spec), store, 0.5), 0.5)
    method = Method("logreg", "mean")
    everything = np.arange(len(evalset))
    pipeline, _ = fit_classifier(method, evalset, emb, everything)
    expected = predict_clips(method, pipeline, evalset, emb, everything)
    assert len(periods) == len(evalset) == 18  # one period per clip
    for row, pos in enumerate(evalset.positions):
        node_scores = periods[store.records[pos].clip_id]
        ours = np.array([node_scores[c] for c in evalset.classes])
        # float TFLite vs torch embeddings, a float32 head: 4e-4 measured on x86-64; the
        # logistic regression's weights amplify the embeddings' round-off
        np.testing.assert_allclose(ours, expected[row], atol=5e-3)
        assert evalset.classes[int(np.argmax(ours))] == \
            evalset.classes[int(np.argmax(expected[row]))]


def test_export_refuses_a_head_of_another_model(tmp_path, other_checkpoint, head_dir, caplog):
    from sea.cli import main as sea

    code = sea(["export", str(other_checkpoint), "--out", str(tmp_path / "bundle"),
                "--frontend", "outside", "--head", str(head_dir), "--parity-windows", "2"])
    assert code == 2
    assert "was fitted on embeddings of model tiny-" in caplog.text
    assert not (tmp_path / "bundle").exists()
    code = sea(["export", str(other_checkpoint), "--out", str(tmp_path / "bundle"),
                "--head", str(head_dir / "head.npz"), "--parity-windows", "2"])
    assert code == 2 and "is a file" in caplog.text
