"""openl3's audio API on sea: `import sea.openl3 as openl3` is the whole migration.

    import sea.openl3 as openl3
    emb, ts = openl3.get_audio_embedding(audio, sr)               # mel256 / music / 6144
    model = openl3.models.load_audio_embedding_model("mel256", "env", 512)
    openl3.process_audio_file("clip.wav", output_dir="out", model=model)

Names, parameters, defaults and return values are openl3 0.4.2's; the network is sea's port of
OpenL3 (torch, no TensorFlow), with the published OpenL3 weights from sea's weight cache.
`OpenL3Error` is `sea.errors.SeaError` (every error for bad input or missing weights) and
`OpenL3Warning` is `sea.errors.SeaWarning` (short or all-zero audio). What still differs from
openl3, and why: docs/migrating-from-openl3.md.
"""

from sea.errors import SeaError as OpenL3Error
from sea.errors import SeaWarning as OpenL3Warning
from sea.openl3 import models
from sea.openl3.core import get_audio_embedding, get_output_path, process_audio_file
from sea.openl3.models import load_audio_embedding_model

__all__ = ["OpenL3Error", "OpenL3Warning", "get_audio_embedding", "get_output_path",
           "load_audio_embedding_model", "models", "process_audio_file"]
