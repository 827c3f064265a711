"""The layers import downwards only, and the string contracts stay inside their Enums.

The core (`sea/`) imports no stage (its command table names them by string), `training/`
imports nothing of `deploy/`; every Import node counts, also one inside a function. A
quantization or model kind is compared as `Quantization` / `ModelKind`, never as its string.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("data_prep", "training", "deploy")
FORBIDDEN = {"sea": STAGES, "training": ("deploy",)}  # importer package -> packages it must not
# moving out of the core by another change (issue 21): it orchestrates every stage
NOT_CHECKED = {"sea/quickstart.py"}
SCANNED = ("sea", *STAGES, "benchmarks")
# modules that define the spellings (and may compare them)
ENUM_MODULES = {"sea/quantization.py", "sea/models.py"}
QUANTIZATION_SPELLINGS = {"none", "float32", "float16", "int8"}
KIND_SPELLINGS = {"config", "keras", "checkpoint", "bundle", "micro"}
QUANTIZATION_NAME = re.compile(r"quantiz", re.IGNORECASE)
KIND_NAME = re.compile(r"(^|_)kind$", re.IGNORECASE)


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py")
                  if p.relative_to(ROOT).as_posix() not in NOT_CHECKED)


def imported(tree: ast.AST, module: str) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the tree (relative ones resolved)."""
    package = module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            found.append((name, node.lineno))
    return found


def forbidden_imports(path: Path) -> list[str]:
    relative = path.relative_to(ROOT)
    module = ".".join(relative.with_suffix("").parts)
    banned = FORBIDDEN.get(relative.parts[0], ())
    return [f"{relative}:{line}: {module} imports {name}"
            for name, line in imported(ast.parse(path.read_text(), str(path)), module)
            if name.split(".")[0] in banned]


def operand_name(node: ast.AST) -> str:
    """What an operand is called: `x`, `a.x`, `m["x"]`, `m.get("x", ...)` all say x."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) \
            else operand_name(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        first = node.args[0] if node.args else None
        if node.func.attr == "get" and isinstance(first, ast.Constant):
            return str(first.value)
        return node.func.attr
    return ""


def strings(node: ast.AST) -> set[str]:
    """The string literals of a constant or of a tuple/list/set of constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(strings(e) for e in node.elts)) if node.elts else set()
    return set()


def compared_pairs(node: ast.Compare):
    operands = [node.left, *node.comparators]
    for a, b in zip(operands, operands[1:]):
        if (isinstance(a, ast.Tuple) and isinstance(b, ast.Tuple)
                and len(a.elts) == len(b.elts)):  # (x.kind, y) == ("bundle", z): elementwise
            yield from zip(a.elts, b.elts)
        else:
            yield a, b


def string_contracts(source: str, filename: str = "<source>") -> list[str]:
    """`line: name vs 'literal'` for each comparison of a quantization or model kind with
    its string spelling."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Compare):
            continue
        for a, b in compared_pairs(node):
            for named, other in ((a, b), (b, a)):
                name = operand_name(named)
                spelled = strings(other) & (QUANTIZATION_SPELLINGS if QUANTIZATION_NAME.search(name)
                                            else KIND_SPELLINGS if KIND_NAME.search(name)
                                            else set())
                if spelled:
                    found.append(f"{node.lineno}: {name} vs {sorted(spelled)}")
    return found


def test_no_import_runs_up_the_layers():
    bad = [line for path in modules(*FORBIDDEN) for line in forbidden_imports(path)]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_import_scan_sees_imports_in_functions_and_relative_ones(tmp_path):
    source = ("import os\n"
              "def f():\n"
              "    from training.embedder import Embedder\n"
              "    from ..deploy import bench\n")
    found = imported(ast.parse(source), "sea.api")
    assert ("training.embedder", 3) in found and ("deploy", 4) in found


@pytest.mark.parametrize("source, flagged", [
    ('if quantize == "int8": pass', True),
    ('x = spec.kind in ("bundle", "micro")', True),
    ('x = manifest.get("quantization", "none") != "none"', True),
    ('x = (r.model, r.quantization) != ("student2", "int8")', True),
    ('x = args.target == "micro"', False),  # a flag's value, not a model kind
    ('x = kind == "identity"', False),  # another kind of kind (a reducer's)
    ('x = quantize is Quantization.INT8', False),
])
def test_the_string_scan_flags_only_contract_comparisons(source, flagged):
    assert bool(string_contracts(source)) is flagged


def test_no_quantization_or_model_kind_is_compared_as_a_string():
    bad = [f"{path.relative_to(ROOT)}:{hit}" for path in modules(*SCANNED)
           if path.relative_to(ROOT).as_posix() not in ENUM_MODULES
           for hit in string_contracts(path.read_text(), str(path))]
    assert not bad, "compare the Enum (sea.quantization, sea.models), not its string:\n" + \
        "\n".join(bad)
