"""Procedural soundscapes: deterministic, annotated, and recognisable by a simple classifier."""

from __future__ import annotations

import numpy as np
import pytest

from data_prep.prepare import prepare
from data_prep.settings.prepare import PrepareSettings
from data_prep.synth.events import COARSE_CLASSES, render_event, urban_background
from data_prep.synth.scene import SceneSpec, SynthSettings, render_scene
from sea.store import ClipStore

SR = 8000


def test_scenes_are_deterministic_and_annotated():
    spec = SceneSpec(seed=5, index=2, settings=SynthSettings(duration=3.0))
    audio, events = render_scene(spec, SR)
    again, events_again = render_scene(spec, SR)
    np.testing.assert_array_equal(audio, again)
    assert events == events_again and events
    other, _ = render_scene(SceneSpec(6, 2, spec.settings), SR)
    assert not np.array_equal(audio, other)
    assert audio.dtype == np.float32 and len(audio) == 3 * SR
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 0.99
    for e in events:
        assert e.label in COARSE_CLASSES and 0 <= e.onset < e.offset <= 3.0


def test_synth_source_in_a_store(tmp_path):
    for name in ("a", "b"):
        prepare(PrepareSettings(sources=("synth:6:11",), out=tmp_path / name, sample_rate=SR,
                                synth_duration=2.0, progress=False))
    a, b = ClipStore(tmp_path / "a"), ClipStore(tmp_path / "b")
    assert a.content_sha256() == b.content_sha256()
    assert len(a) == 6 and a.manifest["datasets"] == {"synth": 6}
    for rec in a.records:
        assert rec.labels == tuple(sorted({e.label for e in rec.events}))
        assert rec.sensor_id.startswith("synth-sensor-") and rec.time
    assert sorted({r.fold for r in a.records}) == ["1", "2", "3", "4", "5"]


def test_user_foreground_and_background(tmp_path, write_audio):
    fg, bg = tmp_path / "fg", tmp_path / "bg"
    write_audio(fg / "bell" / "b1.wav", seconds=0.8, sr=16000, seed=1)
    write_audio(fg / "horn" / "h1.flac", seconds=1.2, sr=22050, seed=2)
    write_audio(bg / "street" / "s.wav", seconds=0.7, sr=16000, seed=3)  # shorter: looped
    prepare(PrepareSettings(sources=("synth:5:1",), out=tmp_path / "s", sample_rate=SR,
                            synth_duration=2.0, synth_foreground=str(fg),
                            synth_background=str(bg), progress=False))
    store = ClipStore(tmp_path / "s")
    assert len(store) == 5
    assert set(store.labels()) <= {"bell", "horn"} and store.labels()


def _features(x: np.ndarray) -> np.ndarray:
    """Log band energies (mean, std over frames) and level-change statistics."""
    n = 256
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::128] * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / SR)
    edges = np.geomspace(40, SR / 2, 17)
    bands = np.log(np.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(1) + 1e-10
                             for lo, hi in zip(edges[:-1], edges[1:])], axis=1))
    level = np.diff(np.log(power.sum(1) + 1e-10))
    return np.concatenate([bands.mean(0), bands.std(0), [level.std(), np.abs(level).mean()]])


def test_event_classes_are_separable_by_simple_features():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X, y = [], []
    for _ in range(10):
        for k, label in enumerate(COARSE_CLASSES):
            event = render_event(label, rng, SR, duration=rng.uniform(1.0, 2.0))
            background = urban_background(rng, SR, 2.5)[: len(event)]
            snr_db = rng.uniform(3, 20)
            X.append(_features(background + event * 10 ** (snr_db / 20)))
            y.append(k)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    accuracy = cross_val_score(clf, np.array(X), np.array(y), cv=5).mean()
    assert accuracy > 0.8, f"accuracy {accuracy:.2f} vs chance 0.125"


def test_scene_labels_are_learnable_from_simple_features():
    """Multi-label scenes (events over background): per-class AUC well above 0.5."""
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    settings = SynthSettings(duration=4.0, max_events=2)
    X, Y = [], []
    for index in range(96):
        audio, events = render_scene(SceneSpec(0, index, settings), SR)
        X.append(_features(audio))
        Y.append([label in {e.label for e in events} for label in COARSE_CLASSES])
    X, Y = np.array(X), np.array(Y)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.3))
    aucs = [roc_auc_score(Y[:, k], cross_val_predict(clf, X, Y[:, k], cv=4,
                                                     method="predict_proba")[:, 1])
            for k in range(len(COARSE_CLASSES))]
    assert np.mean(aucs) > 0.8 and min(aucs) > 0.65, dict(zip(COARSE_CLASSES, aucs))
