"""The packaging metadata in pyproject.toml against the code, the floors we know and the installed versions.

Installs nothing and imports no optional package: it reads ``pyproject.toml`` (tomllib), the package's sources
and ``docs/conf.py`` (ast), ``.ci/core-env.sh`` (the modules that need an extra), ``optional.EXTRAS`` (the
optional modules and their extras), and the versions of the installed distributions (importlib.metadata).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from qiskit_natural_qnn.optional import EXTRAS

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11 on")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qiskit_natural_qnn"
PROJECT = "qiskit-natural-qnn"

#: Import names whose distribution's name is not the import name with "_" read as "-" (when not installed,
#: importlib.metadata cannot say).
DISTRIBUTIONS_OF = {"pypandoc": {"pypandoc", "pypandoc-binary"}}


@cache
def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def requirements(entries: list[str]) -> list[Requirement]:
    return [Requirement(entry) for entry in entries]


def extra_requirements(extra: str) -> list[Requirement]:
    """The requirements of ``extra``, with the project's own extras (``qiskit-natural-qnn[ibm,ml]``) expanded."""
    extras = pyproject()["project"]["optional-dependencies"]
    found: list[Requirement] = []
    for requirement in requirements(extras[extra]):
        if canonicalize_name(requirement.name) == PROJECT:
            for inner in sorted(requirement.extras):
                found += extra_requirements(inner)
        else:
            found.append(requirement)
    return found


def covered(reqs: list[Requirement]) -> set[str]:
    """The distributions that ``reqs`` install by name: each one, and what its requested extras add.

    ``dask[distributed]`` installs ``distributed`` too: read from the installed metadata where the
    distribution is installed, else taken to be the extra's name (the usual convention).
    """
    names: set[str] = set()
    for requirement in reqs:
        names.add(canonicalize_name(requirement.name))
        for extra in requirement.extras:
            try:
                declared = importlib.metadata.requires(requirement.name) or []
            except importlib.metadata.PackageNotFoundError:
                names.add(canonicalize_name(extra))
                continue
            for entry in declared:
                inner = Requirement(entry)
                if inner.marker is not None and inner.marker.evaluate({"extra": extra}):
                    names.add(canonicalize_name(inner.name))
    return names


@cache
def installed_modules() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def distributions_of(module: str) -> set[str]:
    """The distributions that may install the top-level module ``module``."""
    installed = installed_modules().get(module, [])
    return {canonicalize_name(name) for name in [*installed, module, *DISTRIBUTIONS_OF.get(module, ())]}


class Import(NamedTuple):
    module: str  # the top-level module
    where: str  # path:line
    eager: bool  # executed when the importing module is imported (not in a function, TYPE_CHECKING or try)
    source: str  # the importing module's dotted name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(node: ast.Try) -> bool:
    names = {"ImportError", "ModuleNotFoundError"}
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(kind, ast.Name) and kind.id in names for kind in kinds):
            return True
    return False


def _walk(node: ast.AST, eager: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        child_eager = eager
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            child_eager = False
        yield child, child_eager
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for inner in child.body:
                yield inner, False
                yield from _walk(inner, False)
            for inner in child.orelse:
                yield inner, child_eager
                yield from _walk(inner, child_eager)
        elif isinstance(child, ast.Try) and _catches_import_error(child):
            for inner in child.body:
                yield inner, False
                yield from _walk(inner, False)
            for part in (*child.handlers, *child.orelse, *child.finalbody):
                yield part, child_eager
                yield from _walk(part, child_eager)
        else:
            yield from _walk(child, child_eager)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def third_party_imports(path: Path) -> list[Import]:
    """Every import statement of ``path`` that names a module outside the standard library and the package."""
    found = []
    for node, eager in _walk(ast.parse(path.read_text(encoding="utf-8")), eager=True):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "qiskit_natural_qnn":
                found.append(Import(top, f"{path.relative_to(ROOT)}:{node.lineno}", eager, module_name(path)))
    return found


def package_imports() -> list[Import]:
    return [found for path in sorted(PACKAGE.rglob("*.py")) for found in third_party_imports(path)]


def require_calls() -> list[tuple[str, str, str]]:
    """``require("module", extra="extra")`` calls of the package: (module, extra, path:line)."""
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            extra = next((kw.value for kw in node.keywords if kw.arg == "extra"), None)
            if name == "require" and node.args and isinstance(node.args[0], ast.Constant):
                assert isinstance(extra, ast.Constant), f"{path.relative_to(ROOT)}:{node.lineno}: extra= not a literal"
                calls.append((str(node.args[0].value), str(extra.value), f"{path.relative_to(ROOT)}:{node.lineno}"))
    return calls


def optional_extra(module: str) -> str | None:
    """The extra of ``optional.EXTRAS`` that installs the top-level module ``module``, if any."""
    return next((extra for extra, modules in EXTRAS.items() if module in modules), None)


def needs_extra() -> dict[str, str]:
    """The modules that need an extra to import at all, from ``.ci/core-env.sh`` (which checks them at run time)."""
    text = (ROOT / ".ci" / "core-env.sh").read_text(encoding="utf-8")
    match = re.search(r"^NEEDS = (\{.*\})$", text, flags=re.MULTILINE)
    assert match, ".ci/core-env.sh has no line NEEDS = {...}: the modules that need an extra to import"
    needs = ast.literal_eval(match.group(1))
    assert isinstance(needs, dict) and needs, needs
    return needs


def core_requirements() -> list[Requirement]:
    return requirements(pyproject()["project"]["dependencies"])


def test_every_third_party_import_is_a_dependency_or_an_optional_module_of_a_declared_extra() -> None:
    core = covered(core_requirements())
    extras = pyproject()["project"]["optional-dependencies"]
    imports = package_imports()
    assert {found.module for found in imports} >= {"numpy", "torch", "qiskit"}, "the scan found no imports"
    offenders = []
    for found in imports:
        candidates = distributions_of(found.module)
        if candidates & core:
            continue
        extra = optional_extra(found.module)
        if extra is None:
            offenders.append(f"{found.where}: {found.module} is in neither dependencies nor optional.EXTRAS")
        elif extra not in extras or not candidates & covered(extra_requirements(extra)):
            offenders.append(f"{found.where}: {found.module} (extra {extra!r}) is not declared in that extra")
    assert not offenders, "\n".join(offenders)


def test_optional_modules_are_imported_only_lazily_or_by_the_modules_that_need_their_extra() -> None:
    needs = needs_extra()
    offenders = []
    for found in package_imports():
        extra = optional_extra(found.module)
        if extra is None or not found.eager:
            continue
        owner = next((m for m in needs if found.source == m or found.source.startswith(m + ".")), None)
        if owner is None or needs[owner] != extra:
            offenders.append(
                f"{found.where}: {found.source} imports {found.module} (extra {extra!r}) when it is imported; "
                "import it inside the function that needs it, under TYPE_CHECKING, or through optional.require"
            )
    assert not offenders, "\n".join(offenders)


def test_every_module_that_needs_an_extra_exists_and_names_a_known_extra() -> None:
    for module, extra in needs_extra().items():
        path = ROOT / Path(*module.split("."))
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), module
        assert extra in EXTRAS, f"{module} needs {extra!r}, which optional.EXTRAS does not know"


def test_require_calls_name_the_extra_that_installs_the_module() -> None:
    calls = require_calls()
    assert len(calls) >= 3, calls
    wrong = [
        f"{where}: require({module!r}, extra={extra!r}), but optional.EXTRAS gives {module.split('.')[0]} "
        f"to {optional_extra(module.split('.')[0])!r}"
        for module, extra, where in calls
        if module.split(".")[0] not in EXTRAS.get(extra, ())
    ]
    assert not wrong, "\n".join(wrong)


def test_optional_extras_match_the_extras_of_pyproject() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        assert extra in extras, f"optional.EXTRAS has {extra!r}, pyproject.toml has no such extra"
        declared = covered(extra_requirements(extra))
        for module in modules:
            assert distributions_of(module) & declared, f"{module} is not declared in the extra {extra!r}"
    everything = {canonicalize_name(r.name) for r in extra_requirements("all")}
    for extra in EXTRAS:
        missing = {canonicalize_name(r.name) for r in extra_requirements(extra)} - everything
        assert not missing, f"the extra 'all' lacks {sorted(missing)} of {extra!r}"


def requirement_named(reqs: list[Requirement], name: str) -> Requirement:
    found = [r for r in reqs if canonicalize_name(r.name) == canonicalize_name(name)]
    assert len(found) == 1, f"expected one requirement on {name}, got {found}"
    return found[0]


@pytest.mark.parametrize(
    ("where", "name", "floor", "below"),
    [
        # qiskit_ibm_runtime.executor_sampler, which providers.ibm imports, appears in 0.47
        ("extra ibm", "qiskit-ibm-runtime", "0.47", "0.46.99"),
        # setuptools 77 is the first to read the PEP 639 license expression (license = "Apache-2.0")
        ("build-system", "setuptools", "77", "76.99"),
    ],
)
def test_the_known_floors(where: str, name: str, floor: str, below: str) -> None:
    if where == "build-system":
        reqs = requirements(pyproject()["build-system"]["requires"])
    else:
        reqs = extra_requirements(where.removeprefix("extra "))
    specifier = requirement_named(reqs, name).specifier
    assert specifier.contains(floor, prereleases=True), f"{name}{specifier} refuses {floor}, the floor"
    assert not specifier.contains(below, prereleases=True), f"{name}{specifier} lets in {below}, below {floor}"


def test_the_installed_versions_satisfy_every_floor() -> None:
    """Every requirement of ``dependencies`` and of each extra is met by this environment's installed version.

    The core must be installed; an extra's package is checked where it is installed (``.ci/core-env.sh``
    runs the tests without the extras). ``build-system.requires`` is met by the isolated build environment,
    not this one: its floor is pinned by :func:`test_the_known_floors`.
    """
    extras = pyproject()["project"]["optional-dependencies"]
    listed = [(req, "dependencies", True) for req in core_requirements()]
    listed += [(req, f"extra {extra}", False) for extra in extras for req in extra_requirements(extra)]
    unmet, checked = [], 0
    for requirement, where, required in listed:
        extra = where.removeprefix("extra ") if where.startswith("extra ") else ""
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            if required:
                unmet.append(f"{requirement} ({where}) is not installed")
            continue
        checked += 1
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement} ({where}): {installed} is installed")
    assert checked >= len(core_requirements())
    assert not unmet, "\n".join(unmet)


def test_the_classifiers() -> None:
    project = pyproject()["project"]
    classifiers = project["classifiers"]
    assert len(set(classifiers)) == len(classifiers), "a classifier is listed twice"
    assert sum(c.startswith("Development Status :: ") for c in classifiers) == 1, classifiers
    # PEP 639: the license is an SPDX expression; setuptools >= 77 refuses a License classifier next to it
    assert isinstance(project["license"], str), project["license"]
    assert not [c for c in classifiers if c.startswith("License ::")], "drop the License classifiers (PEP 639)"
    assert "Programming Language :: Python :: 3" in classifiers
    minors = sorted(
        int(m.group(1)) for c in classifiers if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    )
    assert minors, "no Programming Language :: Python :: 3.X classifier"
    supported = Requirement(f"python{project['requires-python']}").specifier
    lowest = next(minor for minor in range(30) if supported.contains(f"3.{minor}"))
    assert minors[0] == lowest, f"requires-python {supported} starts at 3.{lowest}; the classifiers at 3.{minors[0]}"
    assert minors == list(range(minors[0], minors[-1] + 1)), f"a Python version is missing between: {minors}"
    assert all(supported.contains(f"3.{minor}") for minor in minors), f"{minors} against requires-python {supported}"


def test_the_docs_extra_installs_what_docs_conf_imports() -> None:
    conf = ROOT / "docs" / "conf.py"
    tree = ast.parse(conf.read_text(encoding="utf-8"))
    modules = {found.module for found in third_party_imports(conf)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "extensions" for t in node.targets):
            modules |= {ast.literal_eval(e).split(".")[0] for e in node.value.elts}  # type: ignore[attr-defined]
    assert {"sphinx", "myst_parser", "nbsphinx", "qiskit_sphinx_theme", "pypandoc"} <= modules, modules
    declared = covered(extra_requirements("docs")) | covered(core_requirements())
    missing = sorted(module for module in modules - {"qiskit_natural_qnn"} if not distributions_of(module) & declared)
    assert not missing, f"docs/conf.py needs {missing}; add them to the docs extra"
