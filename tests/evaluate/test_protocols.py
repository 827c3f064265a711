"""Protocols follow the store's fold column and say clearly when it does not fit."""

from __future__ import annotations

import numpy as np
import pytest

from sea.store import ClipStore, StoreWriter
from training.evaluate.protocols import PROTOCOLS, ProtocolError, select, splits

SR = 8000  # the generated stores' rate (conftest)


def test_esc50_uses_each_predefined_fold_once_as_test(toy_store):
    evalset = select(ClipStore(toy_store), PROTOCOLS["esc50"])
    assert evalset.classes == ["noise_a", "noise_b", "tone"]
    assert evalset.notes == []
    seen = []
    for name, train, test in splits(evalset):
        assert set(evalset.folds[test]) == {name}
        assert name not in set(evalset.folds[train])
        assert len(train) + len(test) == len(evalset)
        seen.extend(test)
    assert [s[0] for s in splits(evalset)] == ["1", "2", "3", "4", "5"]
    assert sorted(seen) == list(range(len(evalset)))


def test_us8k_on_five_folds_runs_but_is_flagged_incomplete(toy_store):
    evalset = select(ClipStore(toy_store), PROTOCOLS["us8k"])
    assert len(splits(evalset)) == 5
    assert any(n.startswith("INCOMPLETE") and "missing 6, 7, 8, 9, 10" in n for n in evalset.notes)


def test_single_fold_cannot_be_cross_validated(tmp_path, single_label_store_at):
    store = ClipStore(single_label_store_at(tmp_path / "one", folds=("1",), per_class=1))
    with pytest.raises(ProtocolError, match="fold 1 only.*cannot be run"):
        select(store, PROTOCOLS["us8k"])


def test_folds_outside_the_protocol_are_refused(tmp_path, single_label_store_at):
    store = ClipStore(single_label_store_at(tmp_path / "s", folds=("1", "7"), per_class=1))
    with pytest.raises(ProtocolError, match="also has 7"):
        select(store, PROTOCOLS["esc50"])
    assert len(splits(select(store, PROTOCOLS["folds"]))) == 2


def test_several_datasets_need_a_choice(tmp_path, single_label_store_at):
    path = tmp_path / "mixed"
    single_label_store_at(path, folds=("1", "2"), per_class=1, dataset="ESC-10")
    with StoreWriter(path, sample_rate=SR) as writer:
        writer.add("us/a", np.zeros(SR, np.float32), source="gen", dataset="UrbanSound8K",
                   labels=("siren",), fold="1")
    store = ClipStore(path)
    with pytest.raises(ProtocolError, match=r"ESC-10 \(6 clips\), UrbanSound8K \(1 clips\)"):
        select(store, PROTOCOLS["esc50"])
    assert len(select(store, PROTOCOLS["esc50"], ["esc-10"])) == 6
    with pytest.raises(ProtocolError, match="fold 1 only"):
        select(store, PROTOCOLS["us8k"], ["UrbanSound8K"])


def test_unusable_clips_are_skipped_with_a_reason(tmp_path, single_label_store_at):
    path = single_label_store_at(tmp_path / "s", folds=("1", "2"), per_class=1)
    with StoreWriter(path, sample_rate=SR) as writer:
        clip = np.zeros(SR, np.float32)
        writer.add("x/two", clip, source="g", dataset="toy", labels=("tone", "noise_a"), fold="1")
        writer.add("x/nofold", clip, source="g", dataset="toy", labels=("tone",))
        writer.add("x/nolabel", clip, source="g", dataset="toy", fold="2")
    evalset = select(ClipStore(path), PROTOCOLS["esc50"])
    assert len(evalset) == 6
    assert evalset.notes[:3] == ["skipped 1 clips: no fold", "skipped 1 clips: no label",
                             "skipped 1 clips: several labels in a single-label protocol"]


def test_sonyc_trains_on_train_and_scores_validate_and_test(ust_store, toy_store):
    evalset = select(ClipStore(ust_store), PROTOCOLS["sonyc-ust"])
    assert evalset.y.ndim == 2 and evalset.classes == ["random", "tone"]
    assert len(evalset) == 120 and not evalset.y.any(axis=1).all()  # unlabelled: negatives
    assert any("carry no label" in n for n in evalset.notes)
    names = []
    for name, train, test in splits(evalset):
        names.append(name)
        assert set(evalset.folds[train]) == {"train"} and set(evalset.folds[test]) == {name}
    assert names == ["validate", "test"]
    with pytest.raises(ProtocolError, match="needs a 'train' split"):
        select(ClipStore(toy_store), PROTOCOLS["sonyc-ust"])


def test_folds_multilabel_cross_validates_over_folds(tmp_path):
    rng = np.random.default_rng(3)
    with StoreWriter(tmp_path / "scenes", sample_rate=SR) as writer:
        for k in range(12):
            labels = ("a", "b") if k % 3 == 0 else ("a",) if k % 3 == 1 else ()
            writer.add(f"synth/{k}", 0.1 * rng.standard_normal(SR).astype(np.float32),
                       source="generated", dataset="synth", labels=labels, fold=str(k % 4 + 1))
    evalset = select(ClipStore(tmp_path / "scenes"), PROTOCOLS["folds-multilabel"])
    assert evalset.y.shape == (12, 2) and evalset.classes == ["a", "b"]
    seen = []
    for name, train, test in splits(evalset):
        seen.append(name)
        assert set(evalset.folds[test]) == {name} and name not in set(evalset.folds[train])
    assert seen == ["1", "2", "3", "4"]
