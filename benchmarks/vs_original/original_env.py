"""Build the virtual environment of the original stack (PROVENANCE.md section 3), once.

Layout of ENV (default ~/.cache/sea/vs-original):
  venv/          python 3.11 venv: tensorflow-cpu 2.15.1, keras 2.15.0, numpy 1.26.4,
                 resampy 0.2.2, librosa 0.11.0 (OpenL3 builds its mel matrix with it), h5py
  kapre03/       kapre 0.3.7 built from its January 2022 sdist (not the 2025 wheel), for OpenL3
  kapre01/       kapre 0.1.7 (kapre 0.1.4's code on tf.keras), for EdgeL3
  src/openl3/, src/edgel3/   openl3 0.4.2 and edgel3 0.2.1 sources, put on the path, never
                 installed (their setup.py downloads weights)
  ready.json     written last: what was installed

Traps handled: `pip download` of the two sdists fails offline in setup.py's weight download,
but `--no-clean` keeps the extracted source in pip's temporary folder, found under our own
TMPDIR; kapre is installed without dependencies (it asks for "tensorflow", not tensorflow-cpu).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PYTHON_PACKAGES = ["tensorflow-cpu==2.15.1", "keras==2.15.0", "numpy==1.26.4", "resampy==0.2.2",
                   "librosa==0.11.0", "soundfile", "h5py", "scipy", "numba", "scikit-learn"]
KAPRE = {"kapre03": "kapre==0.3.7", "kapre01": "kapre==0.1.7"}
SOURCES = {"openl3": "openl3==0.4.2", "edgel3": "edgel3==0.2.1"}


def default_env() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sea" / "vs-original"


def env_python(env: Path) -> Path:
    return env / "venv" / "bin" / "python"


def _run(cmd: list[str], **kwargs) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def _fetch_source(env: Path, package: str, requirement: str) -> None:
    """Copy the package folder of an sdist whose setup.py cannot run offline."""
    tmp = env / "tmp" / package
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run([str(env_python(env)), "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "--no-clean", "--no-build-isolation", "-d", str(tmp / "dl"),
                    requirement], env={**os.environ, "TMPDIR": str(tmp)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fails: expected
    found = sorted(tmp.glob(f"pip-*/{package}_*/{package}/__init__.py"))
    if not found:
        raise RuntimeError(f"could not extract the {requirement} sdist (no {package}/ under {tmp})")
    target = env / "src" / package
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(found[0].parent, target)
    shutil.rmtree(tmp, ignore_errors=True)


def ensure_env(env: Path) -> Path:
    """The env's python, building the env first if `ready.json` is missing."""
    if (env / "ready.json").is_file():
        return env_python(env)
    env.mkdir(parents=True, exist_ok=True)
    if not env_python(env).is_file():
        _run([sys.executable, "-m", "venv", str(env / "venv")])
    pip = [str(env_python(env)), "-m", "pip", "install", "-q"]
    _run(pip + PYTHON_PACKAGES)
    for folder, requirement in KAPRE.items():
        shutil.rmtree(env / folder, ignore_errors=True)
        _run(pip + ["--no-deps", "--no-binary", "kapre", "--target", str(env / folder),
                    requirement])
    for package, requirement in SOURCES.items():
        _fetch_source(env, package, requirement)
    (env / "ready.json").write_text(json.dumps(
        {"packages": PYTHON_PACKAGES, "kapre": KAPRE, "sources": SOURCES}, indent=2) + "\n")
    return env_python(env)


if __name__ == "__main__":
    print(ensure_env(Path(sys.argv[1]) if len(sys.argv) > 1 else default_env()))
