"""Which optional extra of the `sea-embed` distribution provides a missing module, in one line.

The base install is what a sensor node needs; everything heavier comes with an extra. A command
that imports a module of an extra that is not installed ends with `install_hint(...)` instead of
a traceback (see `sea.cli.main`).
"""

from __future__ import annotations

DISTRIBUTION = "sea-embed"  # "sea" on the package index is an unrelated project

# top-level import name -> the extra that installs it
MODULE_EXTRAS: dict[str, str] = {
    "torch": "train", "h5py": "train", "librosa": "train", "resampy": "train",
    "sklearn": "train", "umap": "train", "matplotlib": "train", "scipy": "train",
    "soundata": "data",
    "litert_torch": "export", "tflite_micro": "export",
    "ai_edge_litert": "node", "tflite_runtime": "node-legacy",
    "sounddevice": "mic", "ray": "cluster", "httpx": "node",
    "fastapi": "collector", "starlette": "collector", "uvicorn": "collector",
    "sqlalchemy": "collector", "alembic": "collector", "psycopg": "collector",
    "faiss": "collector", "playwright": "dev",
    "pytest": "dev", "nbclient": "dev", "nbformat": "dev",
}


def extra_for(module_name: str) -> str | None:
    """The extra providing `module_name` (dotted names map by their top-level package)."""
    return MODULE_EXTRAS.get(module_name.split(".")[0])


def install_hint(module_name: str, what: str = "this command") -> str:
    """One line saying which extra to install for `module_name`, from a checkout or a wheel."""
    extra = extra_for(module_name)
    if extra is None:
        return f"{what} needs the Python module {module_name!r}, which is not installed"
    return (f"{what} needs {module_name!r} from the {DISTRIBUTION} extra '{extra}': "
            f"pip install -e \".[{extra}]\" in the checkout (or \"WHEEL[{extra}]\" for a built wheel)")
