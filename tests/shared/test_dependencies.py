"""Every package the code imports is declared in pyproject.toml, and the lock files pin each one."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"service_kit", "licence_gateway", "invoice_checker", "tests", "docs_pages"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def _declared(*extras: str) -> set[str]:
    requirements = list(PYPROJECT["dependencies"])
    for extra in extras:
        requirements += PYPROJECT["optional-dependencies"][extra]
    return {_name(requirement) for requirement in requirements}


def _imported(*folders: str) -> set[str]:
    modules: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - FIRST_PARTY - set(sys.stdlib_module_names)


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    by_module = packages_distributions()
    return {module: {_name(dist) for dist in by_module.get(module, [module])} for module in modules}


def _undeclared(folders: tuple[str, ...], declared: set[str]) -> dict[str, set[str]]:
    return {
        module: dists
        for module, dists in _distributions(_imported(*folders)).items()
        if not dists & declared
    }


def test_shipped_code_imports_only_declared_dependencies() -> None:
    # service_kit.embedded imports the embedded servers lazily, for development only.
    declared = _declared("embedded")
    assert _undeclared(("services", "shared", "migrations"), declared) == {}


def test_tests_and_scripts_import_only_declared_dependencies() -> None:
    declared = _declared("dev", "docs", "embedded")
    assert _undeclared(("tests", "scripts", "deploy"), declared) == {}


def _pinned(lock: str) -> set[str]:
    text = (ROOT / lock).read_text()
    return {_name(line) for line in text.splitlines() if re.match(r"[A-Za-z0-9].*==", line)}


def test_the_lock_files_pin_every_declared_dependency() -> None:
    assert _declared() - _pinned("requirements.txt") == set()
    assert _declared("dev", "docs", "embedded") - _pinned("requirements-dev.txt") == set()
