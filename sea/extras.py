"""Which optional extra provides a Python module, and the one place the install hint is spelled.

The distribution name lives here only, so renaming the package on PyPI changes one line.
"""

from __future__ import annotations

DISTRIBUTION = "sea"

# extra -> top-level modules it installs (pyproject.toml [project.optional-dependencies]).
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "train": frozenset({"torch", "h5py", "librosa", "resampy", "pkg_resources", "scipy",
                        "sklearn", "umap", "matplotlib"}),
    "export": frozenset({"torch", "litert_torch", "ai_edge_litert", "tflite_micro",
                         "torchao"}),
    "data": frozenset({"soundata", "scipy"}),
    "node": frozenset({"ai_edge_litert"}),
    "node-legacy": frozenset({"tflite_runtime"}),
    "mic": frozenset({"sounddevice", "_sounddevice_data"}),
    "dev": frozenset({"pytest", "nbclient", "nbformat", "ipykernel"}),
}
# The extra a command is documented to need, preferred when it provides the missing module.
COMMAND_EXTRAS = {"export": "export", "bench": "export", "download": "data"}


def install_hint(extra: str) -> str:
    """The pip command that installs `extra`."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def extra_for(module: str, command: str | None = None) -> str | None:
    """The extra providing top-level `module` (the command's own extra first), or None."""
    top = module.split(".")[0]
    preferred = COMMAND_EXTRAS.get(command or "")
    if preferred and top in EXTRA_MODULES[preferred]:
        return preferred
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)


def missing_module_message(module: str, command: str | None, program: str = "sea") -> str:
    """One line telling which extra to install for a module that failed to import."""
    what = f"`{program} {command}`" if command else f"`{program}`"
    extra = extra_for(module, command)
    if extra is None:
        return f"{what} needs the Python module {module!r}, which is not installed"
    return f"{what} needs the `{extra}` extra (module {module!r} is missing): {install_hint(extra)}"
