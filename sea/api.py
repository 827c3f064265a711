"""The Python API, as short as openl3's: `load_model`, `get_audio_embedding`, `process_audio_file`.

    import sea
    emb, ts = sea.get_audio_embedding(audio, sr)  # the default model, EdgeL3 SEA-64
    model = sea.load_model("openl3-mel256-env")   # or any other (published weights download)
    emb, ts = sea.get_audio_embedding(audio, sr, model=model, hop=0.1)

Without `model`, the functions use sea's default model, the published EdgeL3 SEA-64 (64-d, 8 kHz
input), whose weights ship inside the package: a fresh install embeds offline.

One interface for every kind of model: a config name (published weights from the registry, see
`sea models`), `CONFIG=PATH.h5` or a `.h5` with `config=`, a student checkpoint directory, or a
TFLite bundle (then only numpy and the interpreter are imported, as on a node). `sea embed` runs
through these functions, so the API returns exactly what the command writes.

Lists of inputs are batched across inputs (windows of consecutive inputs share forward passes),
as openl3's `get_audio_embedding` does. Torch is imported only when a torch model is loaded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np

from sea.audio import check_finite, load_audio, read_info
from sea.errors import InvalidArgument
from sea.framing import frame_resampled
from sea.inputs import as_array, is_sound, like, mono
from sea.models import Embedder, load_embedder, model_id, parse_model
from sea.stream import iter_file_windows

log = logging.getLogger("sea.api")

AudioInput = Union[np.ndarray, str, Path]
NPZ_MODEL_ID = "model_id"  # keys every `.npz` written by `sea embed` / process_audio_file holds
NPZ_SETTINGS = "settings_json"


@dataclass
class Model:
    """A loaded featurizer: the embedder (any backend of `sea.models.Embedder`: torch, TFLite
    or TFLM), what was asked for, and an id that changes whenever the weights do. Attributes
    of the embedder (`dim`, `sample_rate`, `cfg`, `embed`, `embed_windows`, ...) are
    reachable directly."""

    embedder: Embedder
    spec: str
    model_id: str
    device: str

    def __getattr__(self, name: str) -> Any:
        if name == "embedder":  # not set yet (copy, unpickling): no endless recursion
            raise AttributeError(name)
        return getattr(self.embedder, name)


def _spec_text(name_or_path: str | Path, config: str | None) -> str:
    """The `sea evaluate --model` spelling of a model: a bare `.h5` needs its architecture."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix != ".h5" or "=" in text:
        return text
    if config is None:
        from sea.weights import WEIGHT_SOURCES

        # a published file under its own name tells its architecture
        config = next((name for name, src in WEIGHT_SOURCES.items()
                       if src.filename == path.name and not name.endswith("-6144")), None)
    if config is None:
        raise InvalidArgument(f"{text} is a Keras file: name its architecture, e.g. "
                         f"config='edgel3-sea-64' (see `sea models`)")
    return f"{config}={text}"


def load_model(name_or_path: str | Path, weights: str | Path | None = None,
               device: str | None = None, *, config: str | None = None,
               resampler: str = "soxr", batch_size: int = 32,
               threads: int | None = None, precision: str = "float32") -> Model:
    """Load any model of the family for `get_audio_embedding` (see the module docstring).

    `weights`: a `.h5` for a config name (default: the registry/cache, see `sea models`);
    `device`: torch device (default cuda when present, else cpu; bundles run on the cpu);
    `resampler`: soxr (default) or resampy (openl3/edgel3's exact resampling);
    `precision`: float32, or bf16 where the CPU (AVX512-BF16/AMX) or a GPU has it."""
    spec = parse_model(_spec_text(name_or_path, config), str(weights) if weights else None)
    if not spec.kind.torch and device not in (None, "cpu"):
        raise InvalidArgument(f"{name_or_path} is a {spec.kind.word}: it runs on the cpu, not {device}")
    embedder = load_embedder(spec, batch_size=batch_size, device=device, threads=threads,
                             precision=precision, resampler=resampler)
    return Model(embedder, str(name_or_path), model_id(spec), str(embedder.device))


def _as_model(model: Model | str | Path | None, batch_size: int) -> Model:
    if model is None:
        from sea.weights import DEFAULT_MODEL

        model = DEFAULT_MODEL
    return model if isinstance(model, Model) else load_model(model, batch_size=batch_size)


def _array_windows(model: Model, audio: Any, sr: int, hop: float, center: bool,
                   name: str) -> np.ndarray:
    audio = mono(as_array(audio, name), name)  # the batch rule of sea.inputs
    check_finite(audio, name)
    windows, _ = frame_resampled(audio, int(sr), model.sample_rate, hop, center,
                                 model.cfg.frontend.window_seconds, model.resampler)
    return windows


def _file_windows(model: Model, path: Path, hop: float, center: bool) -> Iterator[np.ndarray]:
    """The file's windows at the model's rate, streamed with soxr (memory does not grow with
    the file's length); resampy needs the whole signal. Warns about short or silent audio."""
    window_seconds = model.cfg.frontend.window_seconds
    info = read_info(path)
    if info.frames < info.samplerate * window_seconds:
        log.warning("%s: %.3f s is shorter than one window; zero-padded", path, info.duration)
    if model.resampler == "resampy":
        audio, sr = load_audio(path)
        windows: Iterable[np.ndarray] = frame_resampled(
            audio, sr, model.sample_rate, hop, center, window_seconds, "resampy")[0]
    else:
        windows = iter_file_windows(str(path), model.sample_rate, hop, center, window_seconds)
    peak = 0.0
    for window in windows:
        peak = max(peak, float(np.abs(window).max()))
        yield window
    if peak == 0.0:
        log.warning("%s: silent audio (all zeros)", path)


def _embed_streams(model: Model, streams: Sequence[Iterable[np.ndarray]],
                   batch_size: int) -> list[np.ndarray]:
    """Embed each stream of windows; batches of `batch_size` windows span consecutive streams."""
    parts: list[list[np.ndarray]] = [[] for _ in streams]
    batch: list[np.ndarray] = []
    owners: list[int] = []

    def flush() -> None:
        embedded = model.embed_windows(np.stack(batch))
        for k in sorted(set(owners)):
            parts[k].append(embedded[np.asarray(owners) == k])
        batch.clear()
        owners.clear()

    for k, stream in enumerate(streams):
        for window in stream:
            batch.append(window)
            owners.append(k)
            if len(batch) == batch_size:
                flush()
    if batch:
        flush()
    return [np.concatenate(p) if p else np.zeros((0, model.dim), np.float32) for p in parts]


def get_audio_embedding(audio: AudioInput | Sequence[AudioInput],
                        sr: int | Sequence[int] | None = None, model: Model | str | None = None,
                        hop: float = 0.1, center: bool = True,
                        batch_size: int = 32) -> tuple[Any, Any]:
    """(embedding T x D float32, timestamps T in seconds) of one input, or two lists for a list.

    An input is a numpy array or a torch tensor, (samples,) or (samples, channels), at `sr` Hz
    (one rate, or one per array; a 2-D input with more channels than samples is refused: pass
    several sounds as a list), or the path of an audio file (its own rate). A tensor's
    embedding and timestamps are tensors on its device. Windows are `model`'s 1-s windows every
    `hop` s; with `center` the first is centred on t = 0, as in openl3. `model`: a loaded
    `Model` or what `load_model` takes; None is the default model, EdgeL3 SEA-64."""
    model = _as_model(model, batch_size)
    single = is_sound(audio) or isinstance(audio, (str, Path))
    items = [audio] if single else list(audio)
    rates = list(sr) if isinstance(sr, (list, tuple)) else [sr] * len(items)
    if len(rates) != len(items):
        raise InvalidArgument(f"{len(items)} inputs but {len(rates)} sample rates")
    streams: list[Iterable[np.ndarray]] = []
    for k, (item, rate) in enumerate(zip(items, rates)):
        name = "audio" if single else f"audio[{k}]"
        if isinstance(item, (str, Path)):
            streams.append(_file_windows(model, Path(item), hop, center))
        elif rate is None:
            raise InvalidArgument(f"{name}: an array input needs its sample rate: sr=...")
        else:
            streams.append(_array_windows(model, item, rate, hop, center, name))
    results = [like(item, e, np.arange(len(e)) * hop)  # i * hop: centre with center
               for item, e in zip(items, _embed_streams(model, streams, batch_size))]
    return results[0] if single else ([e for e, _ in results], [t for _, t in results])


def embedding_settings(model: Model, hop: float, center: bool) -> dict[str, Any]:
    """What an embedding depends on besides the audio (stored in every `.npz` we write)."""
    from sea import __version__

    return {"model": model.spec, "model_id": model.model_id, "config": model.cfg.name,
            "dim": int(model.dim), "sample_rate": int(model.sample_rate), "hop": float(hop),
            "center": bool(center), "resampler": model.resampler, "sea_version": __version__}


def output_path(audio_path: Path, output_dir: Path | None, suffix: str) -> Path:
    """`<output-dir>/<stem>[_<suffix>].npz` (beside the input without an output dir)."""
    stem = audio_path.stem + (f"_{suffix}" if suffix else "")
    return (Path(output_dir) if output_dir else audio_path.parent) / f"{stem}.npz"


def save_embedding(out: Path, embedding: np.ndarray, timestamps: np.ndarray,
                   settings: dict[str, Any]) -> None:
    """Write one `.npz` (atomically): embedding, timestamps, model_id and settings_json."""
    from sea.manifest import atomic_save_npz

    atomic_save_npz(out, embedding=embedding, timestamps=timestamps,
                    **{NPZ_MODEL_ID: np.array(settings["model_id"]),
                       NPZ_SETTINGS: np.array(json.dumps(settings, sort_keys=True))})


def process_audio_file(paths: str | Path | Sequence[str | Path], model: Model | str | None = None,
                       output_dir: str | Path | None = None, suffix: str = "", hop: float = 0.1,
                       center: bool = True, batch_size: int = 32,
                       overwrite: bool = False) -> list[Path]:
    """Embed audio files (batched across files) into `.npz` files as `sea embed` writes them;
    existing outputs are kept unless `overwrite`. Returns the output paths."""
    model = _as_model(model, batch_size)
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    outs = [output_path(p, Path(output_dir) if output_dir else None, suffix) for p in paths]
    todo = [(p, o) for p, o in zip(paths, outs) if overwrite or not o.exists()]
    if todo:
        embeddings, timestamps = get_audio_embedding([p for p, _ in todo], model=model, hop=hop,
                                                     center=center, batch_size=batch_size)
        settings = embedding_settings(model, hop, center)
        for (_, out), emb, ts in zip(todo, embeddings, timestamps):
            save_embedding(out, emb, ts, settings)
    return outs
