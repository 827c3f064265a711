"""Every model kind's backend implements the whole `sea.models.Embedder` protocol: the same
attributes (declared on the class) and the same method signatures, so `sea.api.Model` and the
evaluate stage use any of them alike; the resampler is a constructor argument of each."""

from __future__ import annotations

import inspect

import pytest

from sea.models import Embedder, ModelKind, load_embedder, parse_model

METHODS = ("embed", "embed_windows", "load")


def annotations(cls: type) -> dict[str, str]:
    """The attribute annotations of `cls` and its bases (strings: postponed evaluation)."""
    merged: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        merged.update({k: str(v) for k, v in vars(klass).get("__annotations__", {}).items()})
    return merged


def parameters(function) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter after self/cls."""
    return [(p.name, p.kind, p.default)
            for p in list(inspect.signature(function).parameters.values())]


def backend(kind: ModelKind) -> type:
    try:
        return kind.backend_class()
    except ImportError as exc:  # e.g. the micro backend without tflite-micro
        pytest.skip(f"{kind.backend}: {exc}")


@pytest.mark.parametrize("kind", list(ModelKind), ids=str)
def test_each_backend_implements_every_protocol_member(kind):
    cls = backend(kind)
    declared = annotations(cls)
    protocol = annotations(Embedder)
    for name, annotation in protocol.items():
        assert declared.get(name) == annotation, f"{cls.__name__}.{name}: {declared.get(name)}"
    assert "device" in declared, f"{cls.__name__} does not declare its device"
    assert isinstance(inspect.getattr_static(cls, "load"), classmethod)
    for method in METHODS:
        assert parameters(getattr(cls, method)) == parameters(getattr(Embedder, method)), \
            f"{cls.__name__}.{method}{inspect.signature(getattr(cls, method))}"
    assert "resampler" in inspect.signature(cls.__init__).parameters


def test_a_wrong_signature_is_noticed():
    class Partial:  # the protocol's attributes, embed without its hop default
        def embed(self, audio, sr, hop_seconds, center=True): ...

    assert parameters(Partial.embed) != parameters(getattr(Embedder, "embed"))
    assert "name" not in annotations(Partial)


def test_a_loaded_torch_model_is_an_embedder_with_the_resampler_asked_for():
    embedder = load_embedder(parse_model("student0"), batch_size=4, device="cpu",
                             resampler="resampy")
    assert isinstance(embedder, Embedder)
    assert embedder.resampler == "resampy" and str(embedder.device) == "cpu"
