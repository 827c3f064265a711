"""README.md and the documentation pages (docs/*.md) hold on a fresh clone: every command of
their ```bash blocks runs as written (in a temporary checkout-like directory, on tiny inputs)
and exits 0 with its outputs written, or is listed in NOT_RUN with the reason it cannot run
here (and still parses with today's options); every script they name exists, every install
line names this project, and their Python examples run. Illustrative blocks that must not run
are marked ```console or ```text.

"Tiny" is the only liberty taken, and it is spelled out in TEST_SIZE: clip counts, reduced
width, student width, epochs and export window counts shrink, and an export writes one graph
variant of its two, so all blocks run in a few minutes; every other token is the page's. The
paths the blocks read are made as small fixtures: `recordings/` and `clip.wav` (generated
audio), `data/urban-eval` (a 12-clip subset of the shared urban-eval set; the running blocks
skip without it), an OpenL3-layout `openl3_audio_mel256_env.h5` (seeded weights), and
`$SEA_HOME/weights` holding the EdgeL3 SEA-64 file as a cached download (so `--teacher auto`
finds it)."""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Pages run in this order (a page's blocks read what earlier pages' blocks made: deploy makes
# the bundle that evaluation and the node use); other docs pages follow, by name.
PAGE_ORDER = ["README.md", "docs/index.md", "docs/install.md", "docs/quickstart.md",
              "docs/data-prep.md", "docs/training.md", "docs/deploy.md", "docs/evaluation.md",
              "docs/models.md", "docs/node.md", "docs/microcontroller.md"]


def documents() -> list[tuple[str, str]]:
    """(path relative to the repository, text) of README.md and every docs page, in run order."""
    others = sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))
    names = PAGE_ORDER + [n for n in others if n not in PAGE_ORDER]
    return [(n, (REPO / n).read_text()) for n in names if (REPO / n).is_file()]


DOCUMENTS = documents()
ALL_TEXT = "\n".join(text for _, text in DOCUMENTS)

CLUSTER = "the Ray cluster example: needs a cluster and /data on a shared mount"
# Commands that cannot run in a test, by the words they start with: why, and what covers them.
NOT_RUN = {
    "pip install": "installs from the package index (checked below: targets this checkout)",
    "pip wheel": "builds a wheel in an isolated environment fetched from the package index",
    "python -m pytest": "the test suite itself",
    "mkdocs build": "builds this documentation site: tests/test_docs_build.py runs it",
    "sea quickstart": "2-3 min at its defaults; tests/test_quickstart.py runs it on tiny options",
    "sea download": "downloads a dataset (network)",
    "sea prepare esc50:data/": "reads the dataset `sea download esc50` fetches",
    "sea bench": "a benchmark: exports and times the OpenL3 teacher and students 0-3 (minutes)",
    "deploy/targets/aarch64.sh": "builds an arm64 rootfs as root (an hour); tests/deploy/"
                                 "test_aarch64.py runs it where the rootfs is cached",
    "ray start": "starts a Ray cluster across machines",
    "torchrun --nnodes": "DDP across several machines",
    "sea prepare folder:/data/": CLUSTER,
    "sea teacher-embed /data/": CLUSTER,
    "sea reduce /data/": CLUSTER,
    "sea export runs/student-micro": "needs a distilled runs/student-micro (64-d targets); tests/"
                                     "deploy/test_micro.py exports a tiny one with --target micro",
}
NOT_RUN_OPTIONS = {"--input mic": "microphone input (needs PortAudio and a microphone)"}

# Test size: (command prefix, page tokens, tokens run instead): sizes only, and the node's
# graph variant alone (`--frontend outside`) of the two an export writes by default.
TEST_SIZE = [
    ("sea prepare", ["synth:100"], ["synth:5"]),
    ("sea prepare", ["synth:200"], ["synth:5"]),
    ("sea reduce", ["--dim", "128"], ["--dim", "16"]),
    ("sea distill", ["--student", "student2"], ["--student", "custom", "--filters", "8,8,16,16"]),
    ("sea distill", [], ["--epochs", "1"]),
    ("sea export", [], ["--frontend", "outside", "--calibration-windows", "8",
                        "--parity-windows", "6"]),
]


def blocks(language: str, text: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def bash_blocks() -> list[tuple[str, str, str]]:
    """(page, heading above it, text) of each ```bash block, in run order."""
    found = []
    for page, text in DOCUMENTS:
        heading = ""
        for match in re.finditer(r"^#+ ([^\n]*)$|^```bash\n(.*?)^```", text, flags=re.S | re.M):
            if match.group(1) is not None:
                heading = match.group(1).strip()
            else:
                found.append((page, heading, match.group(2)))
    return found


def split_commands(block: str) -> list[list[str]]:
    """Each command of a bash block as argv (continuations joined, comments and `&&` split)."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv:
                commands.append(argv)
    return commands


def command_lines() -> list[list[str]]:
    return [argv for _, _, block in bash_blocks() for argv in split_commands(block)]


def why_not_run(argv: list[str]) -> str | None:
    line = " ".join(argv)
    for prefix, reason in NOT_RUN.items():
        if line.startswith(prefix):
            return reason
    for option, reason in NOT_RUN_OPTIONS.items():
        if option in line:
            return reason
    return None


def at_test_size(argv: list[str]) -> list[str]:
    argv, line = list(argv), " ".join(argv)
    for prefix, written, instead in TEST_SIZE:
        if not line.startswith(prefix):
            continue
        if not written:
            argv += instead
            continue
        for i in range(len(argv) - len(written) + 1):
            if argv[i:i + len(written)] == written:
                argv[i:i + len(written)] = instead
                break
    return argv


def run_order() -> list[tuple[str, str, str]]:
    """The blocks with a command to run, in the order they can run."""
    return [b for b in bash_blocks() if any(not why_not_run(argv) for argv in split_commands(b[2]))]


def expected_outputs(argv: list[str]) -> list[str]:
    """What a command that exits 0 must have written: its --out/--output-dir/--json, and for
    `sea embed` without --output-dir the .npz beside each input."""
    outputs = [argv[i + 1] for i, a in enumerate(argv[:-1])
               if a in ("--out", "--output-dir", "--json") and argv[i + 1] != "-"]
    if argv[:2] == ["sea", "embed"] and "--output-dir" not in argv:
        suffix = argv[argv.index("--suffix") + 1] if "--suffix" in argv else ""
        outputs += [str(Path(a).with_suffix("")) + (f"_{suffix}" if suffix else "") + ".npz"
                    for a in argv if a.endswith(".wav")]
    return outputs


def test_readme_and_docs_have_command_blocks():
    programs = {argv[0] for argv in command_lines()}
    assert {"sea", "sea-node", "pip", "python"} <= programs
    readme = [argv[0] for _, block in [(p, b) for p, _, b in bash_blocks() if p == "README.md"]
              for argv in split_commands(block)]
    assert {"sea", "sea-node", "pip"} <= set(readme)


def test_every_not_run_entry_names_a_documented_command():
    lines = [" ".join(argv) for argv in command_lines()]
    for prefix in NOT_RUN:
        assert any(line.startswith(prefix) for line in lines), f"stale NOT_RUN entry {prefix!r}"
    for option in NOT_RUN_OPTIONS:
        assert any(option in line for line in lines), f"stale NOT_RUN_OPTIONS entry {option!r}"
    for prefix, written, _ in TEST_SIZE:
        assert any(line.startswith(prefix) and " ".join(written) in line for line in lines), \
            f"stale TEST_SIZE entry {prefix!r} {written!r}"


def test_every_command_either_runs_or_says_why_not():
    runnable = {"sea", "sea-node"}
    for argv in command_lines():
        assert argv[0] in runnable or why_not_run(argv), f"no runner and no reason: {argv}"


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
    assert 'pip install "sea' not in ALL_TEXT and "pip install sea[" not in ALL_TEXT


def test_no_user_facing_text_names_issues_commits_or_files_outside_the_repository():
    for page, text in DOCUMENTS:
        for pattern in (r"\bissue \d", r"\.\./shared", r"\bcommit [0-9a-f]{7}", r"PROVENANCE",
                        r"SEA_FACTS", r"\bload (average )?\d"):
            assert not re.search(pattern, text, flags=re.I), f"{page}: {pattern}"


def test_readme_stays_short():
    assert len((REPO / "README.md").read_bytes()) <= 12_500  # details live in docs/


def urban_eval_subset(source: Path, root: Path) -> None:
    """The urban-eval layout with 12 of the shared set's clips: two ESC-10 classes in each of
    the 5 folds, and two UrbanSound8K clips (so `--dataset ESC-10` selects)."""
    with open(source / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = [r for r in rows if r["dataset"] == "UrbanSound8K"][:2]
    for fold in "12345":
        for label in ("dog", "rooster"):
            chosen.append(next(r for r in rows if r["dataset"] == "ESC-10"
                               and r["label"] == label and r["fold"] == fold))
    root.mkdir(parents=True)
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    for row in chosen:
        (root / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / row["file"], root / row["file"])


@pytest.fixture(scope="module")
def torch_threads_restored():
    """The commands set torch's process-wide thread count (--threads defaults): undo it."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, fixtures_dir, urban_eval_dir):
    """A working directory with the inputs the blocks name, and a weights cache beside it."""
    for extra in ("torch", "sklearn", "litert_torch"):  # the blocks need `train` and `export`
        pytest.importorskip(extra)
    import numpy as np
    import soundfile as sf

    from sea.weights import DEFAULT_MODEL, bundled_path

    base = tmp_path_factory.mktemp("readme")
    (base / "home" / "weights").mkdir(parents=True)
    shipped = bundled_path(DEFAULT_MODEL)
    (base / "home" / "weights" / shipped.name).symlink_to(shipped)
    work = base / "checkout"
    (work / "recordings").mkdir(parents=True)
    urban_eval_subset(urban_eval_dir, work / "data" / "urban-eval")
    noise = np.random.default_rng(0)
    sf.write(work / "recordings" / "street.wav", 0.1 * noise.standard_normal(2 * 16000), 16000)
    sf.write(work / "recordings" / "park.wav", 0.1 * noise.standard_normal(3 * 22050), 22050)
    sf.write(work / "clip.wav", 0.1 * noise.standard_normal(16000), 16000)
    # a downloaded OpenL3 mel256 file, as the embed example names it (seeded weights, same shapes)
    (work / "openl3_audio_mel256_env.h5").symlink_to(fixtures_dir / "openl3_mel256_random_seed0.h5")
    return work


@pytest.mark.slow
@pytest.mark.parametrize("block", run_order(), ids=lambda b: f"{b[0]}: {b[1][:30]}")
def test_block_runs_as_written(block, checkout, monkeypatch, torch_threads_restored):
    from deploy.node.cli import main as node_main
    from sea.cli import main as sea_main

    monkeypatch.chdir(checkout)
    monkeypatch.setenv("SEA_HOME", str(checkout.parent / "home"))
    page, heading, text = block
    for argv in split_commands(text):
        if why_not_run(argv):
            continue
        argv = at_test_size(argv)
        main = sea_main if argv[0] == "sea" else node_main
        where = f"{page}, {heading}: {' '.join(argv)}"
        assert main(argv[1:]) == 0, where
        for out in expected_outputs(argv):
            assert (checkout / out).exists(), f"{where} wrote no {out}"


PYTHON_EXAMPLES = [(page, example) for page, text in DOCUMENTS for example in blocks("python", text)]


@pytest.mark.parametrize("page, example", PYTHON_EXAMPLES, ids=[p for p, _ in PYTHON_EXAMPLES])
def test_python_examples_run_on_a_fresh_install(page, example, tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setenv("SEA_HOME", str(tmp_path / "home"))  # an empty weights cache
    monkeypatch.chdir(tmp_path)
    exec(compile(example, page, "exec"), {})
    if page == "README.md":
        assert capsys.readouterr().out.startswith("(26, 64) [0.  0.1 0.2]")


MEASURED = re.compile(r"\d\.\d|\d ?(ms|MB|KB|KiB|GB|%|x)\b")  # a figure someone measured
COMMAND = re.compile(r"`(sea |sea-node |python |/usr/bin/time |\S+\.py\b|\S+\.sh\b)[^`]*`")


def figure_tables() -> list[tuple[str, int, str]]:
    """(page, line number, the table with the text above it (up to 20 lines, back to a heading
    or another table) and 4 lines below) of every table whose rows hold measured figures."""
    found = []
    for page, text in DOCUMENTS:
        lines, i = text.splitlines(), 0
        while i < len(lines):
            if not lines[i].startswith("|"):
                i += 1
                continue
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            if any(MEASURED.search(row) for row in lines[start + 2:i]):  # rows below the header
                above = start
                while above > max(0, start - 20) and not lines[above - 1].startswith(("#", "|")):
                    above -= 1
                found.append((page, start + 1, "\n".join(lines[above:i + 4])))
    return found


def test_every_table_of_figures_names_the_command_that_measured_it():
    tables = figure_tables()
    assert len(tables) >= 5  # quickstart, models, parity, sea bench, emulated aarch64, ...
    for page, line, text in tables:
        assert COMMAND.search(text), f"{page}: table at line {line} names no command or script"
