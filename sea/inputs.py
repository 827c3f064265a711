"""Audio given as arrays or tensors, read the same way by `sea.get_audio_embedding` and
`sea.openl3.get_audio_embedding`.

A sound is a numpy array or a torch tensor (any device), (samples,) or (samples, channels) as
in openl3 and soundfile; several sounds are a list. A 2-D input with more channels than samples
is refused: it is almost surely a batch (n_sounds, n_samples) or channels-first audio
(`torchaudio.load`), which would otherwise be averaged into a few samples of garbage.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from sea.errors import InvalidArgument


def is_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor implies torch is imported: never import it here
    return torch is not None and isinstance(x, torch.Tensor)


def is_sound(x: Any) -> bool:
    """One sound (an array or a tensor), as opposed to a list of them."""
    return isinstance(x, np.ndarray) or is_tensor(x)


def as_array(audio: Any, name: str) -> np.ndarray:
    """The samples of `audio` (named `name` in messages) as a numpy array."""
    if is_tensor(audio):
        return audio.detach().cpu().numpy()
    if isinstance(audio, np.ndarray):
        return audio
    hint = ": files go to process_audio_file" if isinstance(audio, (str, os.PathLike)) else ""
    raise InvalidArgument(f"{name} must be a numpy array or a torch tensor, got "
                          f"{type(audio).__name__}{hint}")


def mono(audio: np.ndarray, name: str) -> np.ndarray:
    """1-D as is; 2-D is (samples, channels) and is averaged over the channels."""
    if audio.size == 0:
        raise InvalidArgument(f"{name} is empty")
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise InvalidArgument(f"{name} must be 1-D (samples,) or 2-D (samples, channels), got "
                              f"shape {audio.shape}")
    samples, channels = audio.shape
    if channels > samples:
        raise InvalidArgument(
            f"{name} has shape {audio.shape}: 2-D audio is (samples, channels), as in openl3, "
            f"and this would be {channels} channels of {samples} samples. Pass several sounds "
            "as a list of 1-D arrays, and channels-first audio transposed (audio.T)")
    return audio.mean(axis=1)


def like(original: Any, embedding: np.ndarray, timestamps: np.ndarray) -> tuple[Any, Any]:
    """Tensors on the input's device for a tensor input, else the arrays."""
    if not is_tensor(original):
        return embedding, timestamps
    import torch

    return (torch.from_numpy(embedding).to(original.device),
            torch.from_numpy(timestamps).to(original.device))
