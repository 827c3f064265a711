"""`sea quickstart` end to end on a tiny configuration, then resumed; and its decisions
(teacher choice, float16 fallback when int8 misses parity) against a stand-in `sea`.

The teacher is a seeded random-weight student3 (fast, and the same on every machine, with or
without the shared fixtures); synth scenes are evaluated with the multi-label
`folds-multilabel` protocol.
"""

from __future__ import annotations

import json
import shutil

import pytest

from sea.cli import main

pytest.importorskip("torch")
pytest.importorskip("litert_torch")

TINY = ["--clips", "10", "--seed", "1", "--epochs", "1", "--student", "custom",
        "--filters", "8,16,16,16", "--teacher", "random:student3"]
OUTPUTS = ["quickstart.json", "store/manifest.json", "teacher/manifest.json",
           "reducer/manifest.json", "reducer/targets.npy", "student/manifest.json",
           "student/history.csv", "bundle/manifest.json", "bundle/model_outside_int8.tflite",
           "report/results.json", "report/report.md", "report/index.html", "node/clip.wav",
           "node/windows.jsonl"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart") / "qs"
    assert main(["quickstart", "--out", str(out), *TINY]) == 0
    return out


@pytest.mark.slow
def test_every_step_writes_its_output(first_run):
    for rel in OUTPUTS:
        assert (first_run / rel).is_file(), rel
    state = json.loads((first_run / "quickstart.json").read_text())
    assert set(state["steps"]) == {"store", "teacher", "reducer", "student", "bundle",
                                   "report", "node"}
    head = state["headline"]
    assert head["teacher"] == {"name": "student3", "source": "random", "dim": 64}
    assert head["student"]["dim"] == 16 and head["student"]["epochs"] == 1
    # QAT needs a float epoch before it (its default for --epochs >= 2)
    assert state["decisions"]["qat"] is False
    assert head["bundle"]["quantization"] == "int8"
    assert head["bundle"]["cosine_vs_float_mean"] >= 0.99
    assert head["bundle"]["bytes"] < head["bundle"]["float32_bytes"]
    assert head["downstream"]["protocol"] == "folds-multilabel"
    # int8 bundle and float student; the random-weight teacher is left out
    assert {s["model"] for s in head["downstream"]["scores"]} == {"bundle", "student"}
    lines = (first_run / "node" / "windows.jsonl").read_text().splitlines()
    assert len(lines) == head["node"]["windows"] > 0
    assert len(json.loads(lines[0])["embedding"]) == 16
    # what produced the numbers: the packages and the machine kind
    assert {"sea-embed", "torch", "numpy", "scikit-learn", "threadpoolctl", "cpu",
            "torch-cpu-capability", "cpus"} <= head["versions"].keys()


@pytest.mark.slow
def test_rerun_skips_finished_steps_and_redoes_missing_ones(first_run, capsys):
    bundle_manifest = first_run / "bundle" / "manifest.json"
    stamp = bundle_manifest.stat().st_mtime_ns
    shutil.rmtree(first_run / "report")
    (first_run / "node" / "windows.jsonl").unlink()
    capsys.readouterr()
    assert main(["quickstart", "--out", str(first_run), *TINY]) == 0
    printed = capsys.readouterr().out
    for step in ("store", "teacher", "reducer", "student", "bundle"):
        assert f"[{step}] already done" in printed, step
    (versions,) = [line for line in printed.splitlines() if line.startswith("versions ")]
    assert "torch 2." in versions and "scikit-learn " in versions and "cpu " in versions
    for step in ("report", "node"):
        assert f"[{step}] already done" not in printed and f"[{step}]" in printed, step
    assert bundle_manifest.stat().st_mtime_ns == stamp
    for rel in OUTPUTS:
        assert (first_run / rel).is_file(), rel


@pytest.mark.slow
def test_other_settings_refuse_to_mix_with_an_earlier_run(first_run, caplog):
    args = [a if a != "10" else "12" for a in TINY]
    assert main(["quickstart", "--out", str(first_run), *args]) == 2
    assert "clips: 10 -> 12" in caplog.text


class FakeSea:
    """Stands in for `sea.cli.main`: records each command; int8 exports miss parity."""

    def __init__(self, out, int8_parity_miss: bool):
        self.out, self.miss, self.calls = out, int8_parity_miss, []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[0] == "export" and "int8" in argv:
            if self.miss:
                (self.out / "bundle.failed-parity.json").write_text("{}")
            return 2
        return 0


@pytest.mark.parametrize("miss", [True, False])
def test_int8_parity_miss_falls_back_to_float16_but_other_failures_stop(tmp_path, miss):
    from pipeline.plan import QuickstartError, QuickstartSettings
    from pipeline.quickstart import Quickstart

    fake = FakeSea(tmp_path, miss)
    qs = Quickstart(QuickstartSettings(out=tmp_path, clips=10), fake)
    if miss:
        qs.bundle()
        assert [c[c.index("--quantize") + 1] for c in fake.calls] == ["int8", "float16"]
    else:
        with pytest.raises(QuickstartError, match="exited with status 2"):
            qs.bundle()
        assert len(fake.calls) == 1


def test_auto_teacher_prefers_local_weights_then_the_shipped_sea64(tmp_path, monkeypatch):
    from pipeline import choices
    from pipeline.plan import QuickstartSettings
    from pipeline.quickstart import Quickstart

    qs = Quickstart(QuickstartSettings(out=tmp_path / "qs"), FakeSea(tmp_path, False))
    monkeypatch.setattr(choices, "local_pretrained_weights", lambda: False)
    monkeypatch.setattr(choices, "download_default_teacher", lambda: None)  # online
    assert qs.teacher_args() == ["--teacher", "openl3-mel256-env"]
    offline = "openl3-mel256-env could not be downloaded: no network"
    monkeypatch.setattr(choices, "download_default_teacher", lambda: offline)
    assert qs.teacher_args() == ["--teacher", "edgel3-sea-64"]  # shipped with sea
    assert qs.state["decisions"]["teacher_fallback_reason"] == offline  # the banner says why
    monkeypatch.setattr(choices, "local_pretrained_weights", lambda: True)
    assert qs.teacher_args() == ["--teacher", "auto"]
    monkeypatch.setattr(choices, "bundled_path", lambda name: None)  # a damaged install
    monkeypatch.setattr(choices, "local_pretrained_weights", lambda: False)
    assert qs.teacher_args() == ["--teacher", "random:openl3-mel256-env"]  # named, never silent


def test_offline_download_of_the_default_teacher_says_why(monkeypatch, tmp_path):
    from pipeline import choices
    from sea import weights

    monkeypatch.setenv("SEA_HOME", str(tmp_path))
    monkeypatch.setitem(weights.WEIGHT_SOURCES, choices.DEFAULT_TEACHER, weights.WeightSource(
        "t.h5", "http://127.0.0.1:9/t.h5.gz", "none"))  # nothing listens on port 9
    why = choices.download_default_teacher()
    assert why.startswith("openl3-mel256-env could not be downloaded") and "t.h5" in why


def test_unrelated_non_empty_out_is_refused(tmp_path):
    from pipeline.plan import QuickstartSettings
    from pipeline.quickstart import Quickstart
    from sea.errors import SeaError

    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(SeaError, match="not a sea artifact"):
        Quickstart(QuickstartSettings(out=tmp_path), FakeSea(tmp_path, False))
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def test_a_teacher_without_published_weights_is_refused_before_any_step(tmp_path, capsys):
    """A random-weight teacher is only ever named, as random:CONFIG: `--teacher student3`
    alone is refused when the settings are made, before minutes of synthesis."""
    from pipeline.plan import QuickstartSettings
    from sea.settings import SettingError

    with pytest.raises(SettingError, match="^teacher student3 has no published weights: pass "
                                           "its file with teacher_weights PATH, or .* with "
                                           "teacher random:student3$"):
        QuickstartSettings(out=tmp_path / "qs", teacher="student3")
    assert QuickstartSettings(out=tmp_path / "qs", teacher="random:student3")
    assert QuickstartSettings(out=tmp_path / "qs", teacher="student3", teacher_weights="s3.h5")
    assert main(["quickstart", "--out", str(tmp_path / "qs"), "--teacher", "student3"]) == 2
    assert "--teacher random:student3" in capsys.readouterr().err
    assert not (tmp_path / "qs").exists()
