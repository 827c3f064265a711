"""Every model kind's backend implements the whole `sea.models.Embedder` protocol: each
attribute set by its own code and each method defined with the protocol's signature (not the
protocol's stub inherited), so `sea.api.Model` and the evaluate stage use any backend alike;
the resampler is a constructor argument of each."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest

from sea.models import Embedder, ModelKind, load_embedder, parse_model

METHODS = ("embed", "embed_windows", "load")
ATTRIBUTES = tuple(Embedder.__annotations__)


def assigned_attributes(cls: type) -> set[str]:
    """Names assigned as `self.NAME = ...` in the methods of `cls` and its bases (not the
    protocol's): what every instance of it holds."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is Embedder or klass.__module__ in ("typing", "builtins"):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            for target in targets:
                for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                            and t.value.id == "self"):
                        names.add(t.attr)
    return names


def parameters(function) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def backend(kind: ModelKind) -> type:
    try:
        return kind.backend_class()
    except ImportError as exc:  # e.g. the micro backend without tflite-micro
        pytest.skip(f"{kind.backend}: {exc}")


@pytest.mark.parametrize("kind", list(ModelKind), ids=str)
def test_each_backend_implements_every_protocol_member(kind):
    cls = backend(kind)
    assert Embedder in cls.__mro__  # subclassed: a type checker holds it to every member
    missing = set(ATTRIBUTES) - assigned_attributes(cls)
    assert not missing, f"{cls.__name__} never sets {sorted(missing)}"
    for method in METHODS:
        own = inspect.getattr_static(cls, method)
        assert own is not vars(Embedder)[method], f"{cls.__name__}.{method} is the protocol's stub"
        assert parameters(getattr(cls, method)) == parameters(getattr(Embedder, method)), \
            f"{cls.__name__}.{method}{inspect.signature(getattr(cls, method))}"
    assert isinstance(inspect.getattr_static(cls, "load"), classmethod)
    assert "resampler" in inspect.signature(cls.__init__).parameters


def test_a_partial_backend_is_noticed():
    class Partial(Embedder):  # no dim, embed without its hop default, the protocol's load
        def __init__(self):
            self.name, self.resampler = "partial", "soxr"

        def embed(self, audio, sr, hop_seconds, center=True): ...

    assert {"dim", "cfg"} <= set(ATTRIBUTES) - assigned_attributes(Partial)
    assert parameters(Partial.embed) != parameters(Embedder.embed)
    assert inspect.getattr_static(Partial, "load") is vars(Embedder)["load"]


def test_a_loaded_torch_model_is_an_embedder_with_the_resampler_asked_for():
    embedder = load_embedder(parse_model("student0"), batch_size=4, device="cpu",
                             resampler="resampy")
    assert isinstance(embedder, Embedder)
    assert embedder.resampler == "resampy" and str(embedder.device) == "cpu"
