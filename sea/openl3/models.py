"""openl3.models on sea: `load_audio_embedding_model` and the checks of its three choices."""

from __future__ import annotations

import warnings
from typing import Any

from sea.errors import InvalidArgument, SeaWarning

VALID_FRONTENDS = ("kapre", "librosa")
VALID_INPUT_REPRS = ("linear", "mel128", "mel256")
VALID_CONTENT_TYPES = ("music", "env")
VALID_EMBEDDING_SIZES = (6144, 512)
# The resampler of openl3's own code (resampy kaiser_best): the openl3 entry points reproduce
# its numbers; sea's own API defaults to soxr.
OPENL3_RESAMPLER = "resampy"


def validate_frontend(frontend: Any, input_repr: Any, stacklevel: int = 3) -> str:
    """openl3's rule: `frontend` is kapre or librosa; `input_repr` None means mel256 with kapre
    and is required with librosa. Returns the input representation. `stacklevel`: the
    user's frame, for the librosa warning (3: the caller of the caller of this function)."""
    if frontend not in VALID_FRONTENDS:
        raise InvalidArgument(f"invalid frontend {frontend!r}; choose one of {VALID_FRONTENDS}")
    if input_repr is None:
        if frontend == "librosa":
            raise InvalidArgument("input_repr is required with frontend='librosa'")
        return "mel256"
    if frontend == "librosa":  # sea's model always holds its frontend; one computation
        warnings.warn("frontend='librosa': sea computes openl3's kapre frontend (the numbers of "
                      "frontend='kapre'), not librosa's approximation of it", SeaWarning,
                      stacklevel=stacklevel)
    if input_repr not in VALID_INPUT_REPRS:
        raise InvalidArgument(f"invalid input_repr {input_repr!r}; choose one of "
                              f"{VALID_INPUT_REPRS}")
    return str(input_repr)


def validate_choices(content_type: Any, embedding_size: Any) -> None:
    if content_type not in VALID_CONTENT_TYPES:
        raise InvalidArgument(f"invalid content_type {content_type!r}; choose one of "
                              f"{VALID_CONTENT_TYPES}")
    if isinstance(embedding_size, bool) or embedding_size not in VALID_EMBEDDING_SIZES:
        raise InvalidArgument(f"invalid embedding_size {embedding_size!r}; choose one of "
                              f"{VALID_EMBEDDING_SIZES}")


def config_name(input_repr: str, content_type: str, embedding_size: int) -> str:
    """sea's name of an OpenL3 audio model (see `sea models`)."""
    return f"openl3-{input_repr}-{content_type}" + ("-6144" if embedding_size == 6144 else "")


def load_audio_embedding_model(input_repr: str | None, content_type: str, embedding_size: int,
                               frontend: str = "kapre") -> Any:
    """The OpenL3 audio model with these characteristics, as a `sea.api.Model`.

    Its weights are the published OpenL3 file of (input_repr, content_type), found in the sea
    weights cache or downloaded and checked as `sea.load_model` does (see `sea models`); a
    missing file raises `sea.weights.WeightsUnavailable`, a SeaError saying where to put it.
    Both frontends compute kapre's numbers (see docs/migrating-from-openl3.md)."""
    from sea.api import load_model

    input_repr = validate_frontend(frontend, input_repr)
    validate_choices(content_type, embedding_size)
    return load_model(config_name(input_repr, content_type, embedding_size),
                      resampler=OPENL3_RESAMPLER)
