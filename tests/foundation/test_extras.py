"""A command that needs a missing extra ends with one line naming the extra (no traceback)."""

import logging

from sea import cli
from sea.clirun import EXIT_MISSING_EXTRA
from sea.commands.models import ModelsSettings
from sea.extras import extra_for, install_hint
from sea.settings_cli import Command


def models_runs(monkeypatch, run) -> None:
    """`sea models` runs `run` instead."""
    monkeypatch.setattr("sea.commands.models.COMMAND", Command(ModelsSettings, run))


def test_missing_extra_is_one_line_naming_it(monkeypatch, caplog):
    def needs_torch(settings):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    models_runs(monkeypatch, needs_torch)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["models"]) == EXIT_MISSING_EXTRA
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "\n" not in message and "'train'" in message and 'pip install -e ".[train]"' in message


def test_unknown_missing_modules_are_named(monkeypatch, caplog):
    def buggy(settings):
        raise ModuleNotFoundError("No module named 'no_such_module'", name="no_such_module")

    models_runs(monkeypatch, buggy)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["models"]) == EXIT_MISSING_EXTRA
    assert "'no_such_module', which is not installed" in caplog.text


def test_extras_cover_the_optional_imports():
    assert extra_for("sklearn.linear_model") == "train"
    assert extra_for("ai_edge_litert.interpreter") == "node"
    assert extra_for("soundata") == "data" and extra_for("numpy") is None
    assert "sea-embed" in install_hint("litert_torch")
