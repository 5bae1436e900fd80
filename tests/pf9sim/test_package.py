"""How pf9sim's modules may import each other: app.py imports the services to build the routes, no service
imports app.py, and there is no import cycle among pf9sim's modules (imports inside functions count too: a
cycle that is only dodged at import time is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def modules_of(package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of a top-level package of the repository."""
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def imports_of(
    name: str, path: Path, known: dict[str, Path], tree: ast.Module | None = None
) -> list[tuple[str, ast.stmt]]:
    """Every module `name` imports, anywhere in the file (`from a import b` is a.b when b is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree or parse(path)):
        if isinstance(node, ast.Import):
            out += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((sub if sub in known else base, node))
    return out


def import_graph(package: str) -> dict[str, set[str]]:
    known = modules_of(package)
    return {
        name: {target for target, _ in imports_of(name, path, known) if target in known}
        for name, path in known.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (or a module importing itself),
    as the path m1 → m2 → … → m1 (Tarjan's algorithm, iterative so deep graphs cannot overflow)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(component)
    return [_a_cycle_in(component, graph) for component in components]


def _a_cycle_in(component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    return paths[node] + [start]
                if child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def test_the_cycle_finder_names_a_cycle_it_is_shown() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_app_imports_every_service_to_build_its_routes() -> None:
    graph = import_graph("pf9sim")
    services = {f"pf9sim.{s}.routes" for s in ("keystone", "nova", "cinder", "neutron", "glance")}
    assert services | {"pf9sim.control"} <= graph["pf9sim.app"]


def test_no_module_of_a_subpackage_imports_the_app() -> None:
    graph = import_graph("pf9sim")
    in_subpackages = {name: targets for name, targets in graph.items() if name.count(".") >= 2}
    offenders = sorted(name for name, targets in in_subpackages.items() if "pf9sim.app" in targets)
    assert offenders == [], f"these import pf9sim.app (take what they need from pf9sim.plumbing): {offenders}"


def test_pf9sim_modules_import_each_other_without_a_cycle() -> None:
    found = cycles(import_graph("pf9sim"))
    assert found == [], "import cycles in pf9sim: " + "; ".join(" -> ".join(cycle) for cycle in found)


# The two commands that start the simulator; they import it inside the functions that do.
STARTS_THE_SIMULATOR = {"pf9lib.commands.sim_cmd", "pf9lib.demo"}


def _is_pf9sim(module: str) -> bool:
    return module == "pf9sim" or module.startswith("pf9sim.")


def test_the_product_imports_the_simulator_only_where_it_starts_it_and_then_lazily() -> None:
    modules = modules_of("pf9lib")
    found = set()
    for name, path in modules.items():
        tree = parse(path)
        inside_functions = {
            id(node)
            for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in ast.walk(func)
        }
        for target, node in imports_of(name, path, modules, tree):
            if _is_pf9sim(target):
                lazy = id(node) in inside_functions
                if name not in STARTS_THE_SIMULATOR or not lazy:
                    found.add(f"{path.relative_to(REPO)}:{node.lineno} imports {target}")
    assert found == set(), "pf9lib must not depend on pf9sim: " + "; ".join(sorted(found))


def test_the_simulator_uses_nothing_of_the_product_but_its_error_classes() -> None:
    used = {
        target
        for name, path in modules_of("pf9sim").items()
        for target, _ in imports_of(name, path, {})
        if target == "pf9lib" or target.startswith("pf9lib.")
    }
    assert used == {"pf9lib.errors"}
