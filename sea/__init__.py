"""sea: Specialized Embedding Approximation for urban-sound sensor nodes.

The `sea` package is the shared core and imports no torch: audio I/O, framing, the numpy
frontend, model configurations, pretrained-weight resolution and artifact manifests.
"""

__version__ = "0.1.0"
