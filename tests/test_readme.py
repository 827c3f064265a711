"""README.md holds: every `sea` / `sea-node` line in its command blocks parses with today's
options, every script it runs exists, every install line names this project, and its Python
example runs (tiny generated audio; the published SEA-64 file from ../shared)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def command_lines() -> list[list[str]]:
    """Each command of the bash blocks as argv (continuations joined, comments and `&&` split)."""
    commands = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                argv = shlex.split(part, comments=True)
                if argv:
                    commands.append(argv)
    return commands


def test_readme_has_command_blocks():
    programs = {argv[0] for argv in command_lines()}
    assert {"sea", "sea-node", "pip", "python"} <= programs


@pytest.mark.parametrize("argv", [a for a in command_lines() if a[0] in ("sea", "sea-node")],
                         ids=lambda a: " ".join(a[:3]))
def test_every_sea_command_parses(argv):
    from deploy.node.cli import build_parser as node_parser
    from sea.cli import build_parser

    parser = build_parser() if argv[0] == "sea" else node_parser()
    parser.parse_args(argv[1:])  # an unknown option or choice exits with status 2


def test_scripts_and_install_lines_resolve_to_this_project():
    for argv in command_lines():
        if argv[0] == "python" and argv[1].endswith(".py"):
            assert (REPO / argv[1]).is_file(), argv
        if argv[0] == "pip" and argv[1] == "install":
            targets = [a for a in argv[2:] if not a.startswith("-")]
            ours = [a for a in targets if a.startswith((".", "$(ls dist/sea_embed"))]
            # only pinned third-party packages besides the checkout or its wheel
            assert ours and all(a in ours or "==" in a for a in targets), argv
    assert 'pip install "sea' not in README and "pip install sea[" not in README


def test_python_example_runs(tmp_path, monkeypatch, fixtures_dir, capsys):
    sea64 = fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5"
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / sea64.name).symlink_to(sea64)
    monkeypatch.setenv("SEA_HOME", str(tmp_path))  # the registry finds it as a cached download
    monkeypatch.chdir(tmp_path)
    (example,) = blocks("python")
    exec(compile(example, "README.md", "exec"), {})
    assert capsys.readouterr().out.startswith("(26, 64) [0.  0.1 0.2]")


def test_first_embed_line_runs_as_written(tmp_path, monkeypatch, fixtures_dir):
    """`sea embed --model edgel3-sea-64 --output-dir emb/ recordings/` on one generated clip,
    the published weights found where the registry looks (a cached download)."""
    import numpy as np
    import soundfile as sf

    from sea.cli import main

    sea64 = fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5"
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / sea64.name).symlink_to(sea64)
    monkeypatch.setenv("SEA_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recordings").mkdir()
    sf.write("recordings/street.wav", 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
    (line,) = [a for a in command_lines() if a[:4] == ["sea", "embed", "--model", "edgel3-sea-64"]]
    assert main(line[1:]) == 0
    with np.load(tmp_path / "emb" / "street.npz") as out:
        assert out["embedding"].shape == (6, 64)  # 1 s, hop 0.1 s, centred
        assert "settings_json" in out.files
