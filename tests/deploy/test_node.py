"""sea-node: files, directories, bad inputs, heads, SIGTERM, and the no-torch import rule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from deploy.node.cli import main
from sea.audio import load_audio
from sea.bundle import BundleEmbedder

REPO = Path(__file__).resolve().parents[2]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_file_output_equals_bundle_embedder(float_bundle, audio_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    path = audio_dir / "b_16k.flac"
    assert main(["run", "--bundle", str(float_bundle), "--input", str(path), "--hop", "0.5",
                 "--out", str(out), "--block-seconds", "0.3"]) == 0
    lines = read_jsonl(out)
    emb, ts = BundleEmbedder(float_bundle).embed(*load_audio(path), hop_seconds=0.5, center=True)
    assert [line["time"] for line in lines] == list(ts)
    np.testing.assert_allclose(np.array([line["embedding"] for line in lines]), emb, atol=1e-5)
    assert all(len(line["top"]) == 3 for line in lines)  # the bundle has a head


def test_directory_with_bad_inputs(float_bundle, audio_dir, tmp_path):
    out = tmp_path / "dir.jsonl"
    code = main(["run", "--bundle", str(float_bundle), "--input", str(audio_dir),
                 str(tmp_path / "missing.wav"), "--out", str(out), "--no-embeddings"])
    assert code == 1  # some inputs failed, the run went on
    lines = read_jsonl(out)
    errors = {Path(line["source"]).name: line["error"] for line in lines if "error" in line}
    assert set(errors) == {"c_corrupt.wav", "d_empty.wav", "missing.wav"}
    assert "empty" in errors["d_empty.wav"]
    good = [line for line in lines if "error" not in line]
    assert {Path(line["source"]).name for line in good} == {"a_8k.wav", "b_16k.flac"}
    assert all("embedding" not in line and "top" in line for line in good)
    assert sum(Path(line["source"]).name == "a_8k.wav" for line in good) == 7  # 3.02 s, hop .5


def test_bad_bundle_exit_code(tmp_path, audio_dir):
    assert main(["run", "--bundle", str(tmp_path), "--input", str(audio_dir),
                 "--out", str(tmp_path / "x.jsonl")]) == 2


def node_command(bundle: Path, inputs: list[str], out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "deploy.node.cli", "run", "--bundle", str(bundle), "--input",
            *inputs, "--out", str(out), *extra]


def test_sigterm_stops_cleanly(float_bundle, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, np.random.default_rng(0).standard_normal(8000 * 600).astype(np.float32) * 0.1,
             8000, subtype="FLOAT")
    out = tmp_path / "term.jsonl"
    proc = subprocess.Popen(node_command(float_bundle, [str(long)], out, "--hop", "0.05"),
                            cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    def written() -> int:  # into a unique temporary file, renamed when the run ends
        return sum(p.stat().st_size for p in tmp_path.glob(".term.jsonl.*.tmp"))

    while time.time() < deadline and written() < 20000:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "SIGTERM" in stderr
    text = out.read_text()
    assert text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]  # every line complete
    assert 0 < len(lines) < 12000
    assert [line["time"] for line in lines] == [round(i * 0.05, 6) for i in range(len(lines))]


def test_node_imports_no_torch(float_bundle, audio_dir, tmp_path):
    """The node runtime needs only numpy + a TFLite interpreter."""
    out = tmp_path / "light.jsonl"
    code = (
        "import sys\n"
        "from deploy.node.cli import main\n"
        f"rc = main(['run', '--bundle', {str(float_bundle)!r}, '--input', "
        f"{str(audio_dir / 'a_8k.wav')!r}, '--out', {str(out)!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'librosa', 'tensorflow', 'litert_torch', 'torchao'))\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert len(read_jsonl(out)) == 7


def test_mic_source_streams_until_stopped(float_bundle, monkeypatch):
    """The mic path with a stand-in sounddevice: live lines carry a UTC time; stop ends it."""
    import io
    import threading
    import types

    from deploy.node.runner import NodeRunner
    from deploy.node.sources import mic_source

    class FakeInputStream:
        def __init__(self, samplerate, channels, dtype, blocksize, device, callback):
            self.callback, self.blocksize = callback, blocksize
            self.done = threading.Event()

        def feed(self):
            rng = np.random.default_rng(0)
            while not self.done.is_set():
                block = (0.1 * rng.standard_normal((self.blocksize, 1))).astype(np.float32)
                self.callback(block, self.blocksize, None, None)
                time.sleep(0.01)

        def __enter__(self):
            threading.Thread(target=self.feed, daemon=True).start()
            return self

        def __exit__(self, *exc):
            self.done.set()

    monkeypatch.setitem(sys.modules, "sounddevice",
                        types.SimpleNamespace(InputStream=FakeInputStream))
    stop = threading.Event()

    class StopAfter(io.StringIO):
        def write(self, text):
            if self.getvalue().count("\n") >= 4:
                stop.set()
            return super().write(text)

    out = StopAfter()
    embedder = BundleEmbedder(float_bundle)
    runner = NodeRunner(embedder, out, hop_seconds=0.5, stop=stop)
    runner.run_source(mic_source(embedder.sample_rate, 0.25, stop))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 5 and all(line["source"] == "mic" for line in lines)
    assert all(line["utc"].endswith("Z") for line in lines)
