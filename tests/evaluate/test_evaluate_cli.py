"""`sea evaluate` end to end on generated stores with a tiny random student."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sea.cli import main
from training.evaluate import pipeline

pytest.importorskip("torch")
pytest.importorskip("sklearn")


def _evaluate(*args: str) -> int:
    return main(["evaluate", "--hop", "0.5", "--threads", "1", "--no-progress", *args])


@pytest.mark.parametrize("missing", ["runs/student9", "no-such-model"])
def test_a_missing_model_is_a_bad_argument_found_before_any_work(tmp_path, toy_store,
                                                                tiny_student, caplog, missing):
    out = tmp_path / "report"
    assert _evaluate("--model", str(tiny_student), "--model", missing, "--data", str(toy_store),
                     "--protocol", "esc50", "--out", str(out)) == 2
    assert (f"{missing} does not exist" if "/" in missing else "unknown model") in caplog.text
    assert not out.exists()


def _broken_copy(student: Path, directory: Path) -> Path:
    """A checkpoint whose manifest reads but whose weights are gone: it fails while loading."""
    broken = directory / "broken"
    shutil.copytree(student, broken)
    (broken / "model.pt").unlink()
    return broken


def test_report_on_a_labelled_store(tmp_path, toy_store, tiny_student, monkeypatch, capsys):
    out = tmp_path / "report"
    broken = _broken_copy(tiny_student, tmp_path)
    code = _evaluate("--model", str(tiny_student), "--model", str(broken),
                     "--data", str(toy_store), "--protocol", "esc50", "--out", str(out),
                     "--classifier", "logreg", "--classifier", "mlp-0")
    assert code == 1  # README: some inputs failed, the others were processed
    results = json.loads((out / "results.json").read_text())
    good, bad = results["models"]
    assert "model.pt" in bad["error"]
    assert good["num_params"] > 0 and good["dim"] == 8 and good["seconds_per_window"] > 0
    assert good["network_latency_ms"] > 0  # the network alone, single windows (sea bench)
    printed = capsys.readouterr().out  # the score table, on stdout
    assert re.search(r"tiny\s+tiny, float32 torch checkpoint\s+logreg\+mean\s+%.3f ± "
                     % good["methods"]["logreg+mean"]["mean"]["accuracy"], printed)
    assert f"model {broken} skipped" in printed and "accuracy (higher is better)" in printed
    for key in ("logreg+mean", "mlp-0+mean"):
        res = good["methods"][key]
        assert len(res["folds"]) == 5
        assert res["per_class"]["tone"] > 0.9  # trivially separable
        # the two noise classes are indistinguishable: on average they are told apart at chance
        assert 0.25 < (res["per_class"]["noise_a"] + res["per_class"]["noise_b"]) / 2 < 0.75

    tables = json.loads((out / "report.json").read_text())
    assert [r["method"] for r in tables["scores"]] == ["logreg+mean", "mlp-0+mean"]
    assert tables["per_class"]["columns"] == ["tiny logreg+mean", "tiny mlp-0+mean"]
    assert tables["skipped_models"][0]["model"] == str(broken)
    md = (out / "report.md").read_text()
    assert "| tiny | tiny, float32 torch checkpoint | logreg+mean | **" in md
    assert "accuracy (higher is better): mean ± std" in md and "lower is better" in md
    html = (out / "index.html").read_text()
    images = re.findall(r"<img src='([^']+)'", html)
    assert any(p.endswith("pca.png") for p in images) and "plots/score_vs_size.png" in images
    assert sum("logreg_mean" in p for p in images) == 1  # its confusion matrix
    assert all((out / p).is_file() for p in images)

    # A second report with the same --cache reuses the embeddings: no model is built.
    def no_model(*a, **k):
        raise AssertionError("embeddings were recomputed")

    monkeypatch.setattr(pipeline, "load_embedder", no_model)
    again = tmp_path / "again"
    assert _evaluate("--model", str(tiny_student), "--data", str(toy_store), "--protocol",
                     "esc50", "--out", str(again), "--classifier", "logreg",
                     "--cache", str(out / "cache")) == 0
    rerun = json.loads((again / "results.json").read_text())["models"][0]["methods"]["logreg+mean"]
    for new, old in zip(rerun["folds"], good["methods"]["logreg+mean"]["folds"]):
        assert new["accuracy"] == old["accuracy"] and new["per_class"] == old["per_class"]


def test_sonyc_protocol_with_mil(tmp_path, ust_store, tiny_student, monkeypatch):
    from sklearn.metrics import average_precision_score

    from training.evaluate.metrics import finite_scores

    drawn = []
    draw = pipeline.plots.pr_curves
    monkeypatch.setattr(pipeline.plots, "pr_curves",
                        lambda y, scores, *a: drawn.append((y, scores)) or draw(y, scores, *a))
    out = tmp_path / "ust"
    assert _evaluate("--model", str(tiny_student), "--data", str(ust_store), "--protocol",
                     "sonyc-ust", "--out", str(out), "--classifier", "logreg") == 0
    res = json.loads((out / "results.json").read_text())["models"][0]["methods"]["logreg+mil-max"]
    (y, scores), = drawn  # the PR curves pool validate and test: their micro AP is the table's
    assert len(y) == sum(f["n_test"] for f in res["folds"])
    assert average_precision_score(y.ravel(), finite_scores(scores).ravel()) == pytest.approx(
        res["pooled"]["micro_auprc"], abs=1e-12)
    assert f"pooled out-of-fold micro_auprc {res['pooled']['micro_auprc']:.3f}" in (
        out / "report.md").read_text()
    assert [f["fold"] for f in res["folds"]] == ["validate", "test"]
    assert res["per_class"]["tone"] > 0.9
    assert res["per_class"]["random"] < 0.85  # labels drawn at random: about their prevalence
    assert len(list((out / "plots").rglob("logreg_mil-max.png"))) == 1  # its PR curves


def test_store_that_cannot_follow_the_protocol_is_a_clear_error(tmp_path, toy_store, tiny_student,
                                                                caplog):
    code = _evaluate("--model", str(tiny_student), "--data", str(toy_store), "--protocol",
                     "sonyc-ust", "--out", str(tmp_path / "r"))
    assert code == 2
    assert "needs a 'train' split" in caplog.text


def test_settings_shared_by_evaluate_and_head_fit_are_checked_alike(tmp_path, capsys):
    from sea.settings import SettingError
    from training.settings.evaluate import EvaluateSettings, HeadFitSettings

    common = dict(data=tmp_path, out=tmp_path / "out", hop=0.5)
    assert EvaluateSettings(models=("student3",), protocol="folds", **common).hop == 0.5
    with pytest.raises(SettingError, match="^max_iter must be at least 1"):
        EvaluateSettings(models=("student3",), protocol="folds", max_iter=0, **common)
    with pytest.raises(SettingError, match="^max_iter must be at least 1"):
        HeadFitSettings(model="student3", max_iter=0, **common)
    with pytest.raises(SettingError, match="^weights needs exactly one models"):
        EvaluateSettings(models=("a", "b"), weights="w.h5", protocol="folds", **common)
    with pytest.raises(SettingError, match="no probabilities"):
        HeadFitSettings(model="student3", classifier="svm", **common)
    # the CLI names the same rule with flags, before any work
    assert main(["evaluate", "--model", "a", "--model", "b", "--weights", "w.h5", "--data",
                 str(tmp_path), "--protocol", "folds", "--out", str(tmp_path / "out")]) == 2
    assert "--weights needs exactly one --model" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
