"""The layering rules the import contract cannot see: no import hides in a function (but to defer Qt,
and then it says why), no module outside a family names the family by string, no contract exceptions."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from colorstudio.families import DEFAULT_MODEL, families

PACKAGE = Path(__file__).parents[1] / "colorstudio"
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _function_local_imports(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every import of a colorstudio module inside a function."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and (inner.module or "").startswith("colorstudio"):
                found.append((inner.lineno, lines[inner.lineno - 1]))
            elif isinstance(inner, ast.Import) and any(a.name.startswith("colorstudio") for a in inner.names):
                found.append((inner.lineno, lines[inner.lineno - 1]))
    return sorted(set(found))


def test_function_local_imports_only_defer_qt_and_say_so():
    unexplained = []
    for path in _modules():
        for line, text in _function_local_imports(path):
            # the one heavy optional dependency deferred this way is Qt (PySide6): the GUI, and the CLI
            # that starts it; each such line explains itself
            if "#" not in text or "gui" not in path.parts and ".gui." not in text:
                unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text.strip()}")
    assert unexplained == []


def test_family_names_appear_only_in_the_families_own_modules():
    names = {family.name for family in families()}
    quoted = re.compile("|".join(f'"{re.escape(name)}"' for name in sorted(names)))
    outside = []
    for path in _modules():
        owner = path.stem.removeprefix("train_").removesuffix("_colorizer")
        if owner in names:  # models/NAME.py, families/NAME.py, training/train_NAME.py, engine/NAME_colorizer.py
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if quoted.search(line) and not (path.name == "registry.py" and line.startswith("DEFAULT_MODEL =")):
                outside.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert outside == []
    assert DEFAULT_MODEL in names


def test_the_import_contract_has_no_exceptions():
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    assert all("ignore_imports" not in contract for contract in config["contracts"])
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    order = [layer.split(" | ")[0] for layer in layers]
    assert order.index("colorstudio.families") < order.index("colorstudio.engine") < order.index("colorstudio.models")
