"""`sea prepare`, `sea store info` and `sea download` through their command modules."""

from __future__ import annotations

import argparse
import json

import pytest

from data_prep.commands import download, prepare
from sea import cli
from sea.commands import store as store_command
from sea.settings_cli import add_command, run_parsed


def _run(module, argv: list[str]) -> int:
    """The command of `module` run on `argv`, its errors raised (not turned into exit codes)."""
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(), "command", module.COMMAND, "", None)
    return run_parsed(parser.parse_args(["command", *argv]))


def test_commands_are_registered():
    for name, module in (("prepare", prepare), ("download", download),
                         ("store", store_command)):
        assert cli.COMMANDS[name][0] == module.__name__


def test_prepare_then_store_info_json(tmp_path, capsys, write_audio):
    src = tmp_path / "rec"
    write_audio(src / "dogs" / "a.wav", sr=22050)
    write_audio(src / "cars" / "b.wav", sr=44100, seed=1)
    (src / "cars" / "bad.wav").write_bytes(b"\x00" * 100)
    out = tmp_path / "store"
    assert _run(prepare, [f"folder:{src}", "synth:2:4", "--out", str(out), "--sample-rate",
                          "16000", "--folder-labels", "--synth-duration", "1",
                          "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "4 clips" in printed and "1 skipped" in printed
    assert _run(store_command, ["info", str(out), "--json", "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["clips"] == 4 and info["datasets"] == {"rec": 2, "synth": 2}
    assert info["labels"]["dogs"] == 1 and info["labels"]["cars"] == 1
    assert info["seconds"] == pytest.approx(3.0, abs=0.01)
    assert [s["path"].rsplit("/", 1)[-1] for s in info["skipped"]] == ["bad.wav"]
    assert len(info["content_sha256"]) == 64 and info["damaged_clips"] == []
    assert set(info) >= {"folds", "sample_rate", "status", "sensors"}
    assert _run(store_command, ["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 clips" in text and "bad.wav" in text


def test_store_info_on_a_non_store_is_a_clear_error(tmp_path):
    from sea.store import StoreError

    with pytest.raises(StoreError, match="manifest.json"):
        _run(store_command, ["info", str(tmp_path)])


def test_download_settings_rules_name_the_options(tmp_path, capsys):
    assert cli.main(["download", "esc50"]) == 2
    assert "`sea download esc50` needs --data-home" in capsys.readouterr().err
    assert cli.main(["download", "esc50", "x", "--data-home", str(tmp_path)]) == 2
    assert "only `sea download weights` takes NAME" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_download_sonyc_ust_explains_where_to_get_it(tmp_path, capsys):
    assert _run(download, ["sonyc-ust", "--data-home", str(tmp_path)]) == 2
    assert "zenodo.org/records/3966543" in capsys.readouterr().out


def test_download_unknown_dataset(tmp_path, caplog):
    pytest.importorskip("soundata")
    assert _run(download, ["no-such-set", "--data-home", str(tmp_path)]) == 2
    assert "unknown dataset" in caplog.text
