"""sea: Specialized Embedding Approximation for urban-sound sensor nodes.

The `sea` package is the shared core and imports no torch: audio I/O, framing, the numpy
frontend, model configurations, pretrained-weight resolution and artifact manifests.
"""

__version__ = "0.1.0"

# The Python API (sea.api), loaded on first use so that `import sea` stays light: numpy,
# soundfile and torch are imported only when a function is called.
_API = ("load_model", "get_audio_embedding", "process_audio_file")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from sea import api

        return getattr(api, name)
    raise AttributeError(f"module 'sea' has no attribute {name!r}")
