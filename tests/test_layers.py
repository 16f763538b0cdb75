"""The package's imports form no circle and never run against the layer order.

Every module of ``bayesfm`` is parsed with :mod:`ast`, never imported, and every import of a
``bayesfm`` module is collected: imports inside functions too (a lazy import is still a
dependency, and it is how a circle hides), imports under ``if TYPE_CHECKING:``, relative
imports, ``from bayesfm import x`` (the submodule ``x`` when there is one, else the package
face) and ``importlib.import_module("bayesfm.x")`` with a literal name. Each is resolved to the
module actually imported. Importing ``bayesfm.a.b`` also runs the ``__init__`` of ``bayesfm``
and ``bayesfm.a``; those implicit imports of parent packages are not counted, or every module
would form a circle with the package face.

The layers, lowest first: data -> model -> engines -> results -> estimators -> cli/plots. A
module may import from its own layer or lower ones. The package face ``bayesfm/__init__.py``
may import anything; importing the face from inside the package counts as importing the top
layer, since the face imports the estimators.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Layer of every top-level module or subpackage of bayesfm (its name after ``bayesfm.``).
LAYERS: dict[str, int] = {
    "_version": 0,
    "data": 0,
    "model": 1,
    "engines": 2,
    "results": 3,
    "metrics": 3,
    "persistence": 4,
    "estimators": 4,
    "plots": 5,
    "cli": 5,
}
LAYER_NAMES = {0: "data", 1: "model", 2: "engines", 3: "results", 4: "estimators",
               5: "cli/plots"}
PACKAGE = "bayesfm"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
_IMPORT_FUNCTIONS = {"import_module", "__import__"}

#: module -> {imported module: first line that imports it}
Graph = dict[str, dict[str, int]]


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Map every module name of the package under ``root`` to its file."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def imports_of(source: str, module: str, is_package: bool, package: str,
               modules: Iterable[str]) -> dict[str, int]:
    """The modules of ``package`` that ``source`` (the text of ``module``) imports, by line."""
    modules = set(modules)
    found: dict[str, int] = {}

    def add(name: str, line: int) -> None:
        if name == package or name.startswith(package + "."):
            found[name] = min(found.get(name, line), line)

    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in modules else base, node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if name in _IMPORT_FUNCTIONS and isinstance(first, ast.Constant) and isinstance(
                first.value, str
            ):
                add(first.value, node.lineno)
    found.pop(module, None)
    return found


def import_graph(root: Path, package: str) -> Graph:
    """Every module of the package and the package modules it imports."""
    modules = find_modules(root, package)
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py",
                         package, modules)
        for name, path in modules.items()
    }


def circular_groups(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The strongly connected components that hold a circle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups, key=min)


def shortest_cycle(graph: Mapping[str, Iterable[str]], group: set[str]) -> list[str]:
    """The shortest circle ``[a, b, ..., a]`` inside ``group`` through its first module."""
    start = min(group)
    paths = {nxt: [start, nxt] for nxt in sorted(graph.get(start, ())) if nxt in group}
    queue = list(paths)
    while start not in paths:  # breadth first, so the first way back is a shortest one
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return paths[start]


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One shortest circle per group of modules that import each other."""
    return [shortest_cycle(graph, group) for group in circular_groups(graph)]


def layer_key(module: str) -> str | None:
    """The top-level name a module belongs to (``None`` for the package face)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def unmapped(graph: Graph, layers: Mapping[str, int]) -> list[str]:
    """Modules whose top-level name has no layer."""
    return sorted(m for m in graph if layer_key(m) is not None and layer_key(m) not in layers)


def layer_violations(graph: Graph, layers: Mapping[str, int]) -> list[str]:
    """Every import of a higher layer, and of a module that does not exist, one line each."""
    top = max(layers.values())

    def layer(module: str) -> int:
        key = layer_key(module)
        return top if key is None else layers[key]

    out = []
    for module, targets in sorted(graph.items()):
        if layer_key(module) is None:
            continue  # the package face gathers the public names from every layer
        for target, line in sorted(targets.items()):
            if target not in graph:
                out.append(f"{module}, line {line}: imports {target}, which is no module")
            elif layer(target) > layer(module):
                out.append(
                    f"{module} (layer {layer(module)}, {LAYER_NAMES.get(layer(module))}), line "
                    f"{line}: imports {target} (layer {layer(target)}, "
                    f"{LAYER_NAMES.get(layer(target))})"
                )
    return out


# -- the package --------------------------------------------------------------------------


def test_no_import_cycle_between_modules():
    graph = import_graph(ROOT, PACKAGE)
    assert len(graph) > 20, sorted(graph)  # the walk found the package, not an empty folder
    groups = circular_groups(graph)
    lines = []
    for group in groups:
        lines.append(" -> ".join(shortest_cycle(graph, group)))
        if len(group) > 2:
            lines.append(f"  one group of {len(group)} modules that import each other:")
        lines += [f"    {a} -> {b} (line {line})" for a in sorted(group)
                  for b, line in sorted(graph[a].items()) if b in group]
    assert not groups, "import cycles:\n" + "\n".join(lines)


def test_every_import_respects_the_layer_order():
    graph = import_graph(ROOT, PACKAGE)
    missing = unmapped(graph, LAYERS)
    assert not missing, (
        f"modules whose top-level name is not in LAYERS: {missing}; add each name to the LAYERS "
        "map at the top of tests/test_layers.py with the layer it belongs to"
    )
    violations = layer_violations(graph, LAYERS)
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


# -- the checks themselves can fail -------------------------------------------------------


def test_cycle_finder_reports_a_circle_and_only_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a"}, "f": {"f"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["f", "f"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []
    # Two circles through one module form one component; the shortest one is shown.
    two = {"a": {"b", "c"}, "b": {"a"}, "c": {"d"}, "d": {"a"}}
    assert find_cycles(two) == [["a", "b", "a"]]
    assert circular_groups(two) == [{"a", "b", "c", "d"}]


def test_resolver_finds_lazy_relative_and_package_face_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__.py", "low.py", "lazy.py", "named.py", "sub/__init__.py",
                 "sub/other.py"):
        (pkg / name).write_text("")
    (pkg / "sub" / "mod.py").write_text(
        "import os, pkgutil\n"                       # not the package, whatever the prefix
        "from . import other\n"
        "from .. import low\n"
        "from ..sub import other as again\n"
        "from pkg import name_defined_in_init\n"
        "import pkg.sub\n"
        "from pkg.gone import x\n"
        "def f():\n"
        "    from pkg.lazy import thing\n"
        "    return importlib.import_module('pkg.named')\n"
    )
    graph = import_graph(pkg, "pkg")
    assert sorted(graph) == ["pkg", "pkg.lazy", "pkg.low", "pkg.named", "pkg.sub",
                             "pkg.sub.mod", "pkg.sub.other"]
    assert graph["pkg.sub.mod"] == {"pkg.sub.other": 2, "pkg.low": 3, "pkg": 5, "pkg.sub": 6,
                                    "pkg.gone": 7, "pkg.lazy": 9, "pkg.named": 10}
    assert find_cycles(graph) == []
    (pkg / "sub" / "__init__.py").write_text("from .mod import f\n")  # a circle through it
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.sub"] == {"pkg.sub.mod": 1}
    assert find_cycles(graph) == [["pkg.sub", "pkg.sub.mod", "pkg.sub"]]


def test_layer_check_reports_an_arrow_up_and_an_unmapped_module():
    layers = {"data": 0, "estimators": 4, "cli": 5}
    graph = {
        "bayesfm": {"bayesfm.cli": 1},                          # the face may import anything
        "bayesfm.cli": {"bayesfm.data": 3, "bayesfm": 4},       # down, and the face: allowed
        "bayesfm.data.io": {"bayesfm.estimators": 7, "bayesfm": 8, "bayesfm.gone": 9},
        "bayesfm.estimators": {"bayesfm.data.io": 2},
        "bayesfm.data": {},
        "bayesfm.extra": {},
    }
    assert unmapped(graph, layers) == ["bayesfm.extra"]
    assert layer_violations(graph, layers) == [
        "bayesfm.data.io (layer 0, data), line 8: imports bayesfm (layer 5, cli/plots)",
        "bayesfm.data.io (layer 0, data), line 7: imports bayesfm.estimators (layer 4, "
        "estimators)",
        "bayesfm.data.io, line 9: imports bayesfm.gone, which is no module",
    ]
