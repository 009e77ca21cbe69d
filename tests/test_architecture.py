"""The architecture rules that import-linter cannot state: private names, the public surface, no test code in
the library. (Layers, the CLI and the providers at the edges, and acyclic imports are the contracts in
``.importlinter``, checked by ``lint-imports`` in ``.ci/run``.)"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import qiskit_natural_qnn
from qiskit_natural_qnn.optional import EXTRAS

PACKAGE = Path(qiskit_natural_qnn.__file__).parent


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qiskit_natural_qnn"):
            yield node


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = []
    for name, path in _modules():
        for node in _imports(path):
            for alias in node.names:
                private = alias.name.startswith("_") and not (alias.name.startswith("__") and alias.name.endswith("__"))
                if private and node.module != name:
                    offenders.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {alias.name} from {node.module}"
                    )
    assert not offenders, "\n".join(offenders)


def test_imports_inside_the_package_are_absolute() -> None:
    relative = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
        for _, path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert not relative, relative


def test_the_public_api_is_narrow_and_every_name_resolves() -> None:
    names = qiskit_natural_qnn.__all__
    assert len(names) <= 24, f"{len(names)} top-level names: keep the top level to what a user needs"
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(qiskit_natural_qnn, name), name
    assert "predict_on_sampler" in names


def _optional_package(exc: ModuleNotFoundError) -> bool:
    """True when ``exc`` is a missing package that one of the extras installs."""
    top = (exc.name or "").split(".")[0]
    return any(top == name for names in EXTRAS.values() for name in names)


def test_every_subpackage_exports_what_it_lists() -> None:
    checked = 0
    for info in pkgutil.walk_packages(qiskit_natural_qnn.__path__, "qiskit_natural_qnn."):
        try:
            module = importlib.import_module(info.name)
            for name in getattr(module, "__all__", ()):
                assert hasattr(module, name), f"{info.name}.__all__ lists {name!r}, which it does not define"
        except ModuleNotFoundError as exc:  # a module of an extra that is not installed here
            if not _optional_package(exc):
                raise
            continue
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("word", ["PAPER.md", "_fake_record"])
def test_the_library_carries_its_own_references_and_no_test_helpers(word: str) -> None:
    hits = [str(p.relative_to(PACKAGE.parent)) for _, p in _modules() if word in p.read_text(encoding="utf-8")]
    assert not hits, f"{word!r} appears in {hits}"
