"""No import cycle among portreg.server's modules: function-level and TYPE_CHECKING imports
count (grimp reads every import statement), so a cycle hidden inside a function fails too."""

from __future__ import annotations

from functools import cache

import grimp


@cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("portreg", cache_dir=None)


def _cycles(graph: grimp.ImportGraph, prefix: str) -> list[list[str]]:
    """Strongly connected groups of more than one module among those under `prefix`."""
    nodes = sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))
    inside = set(nodes)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in nodes:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_among_server_modules() -> None:
    graph = _graph()
    assert "portreg.server.app" in graph.modules
    assert _cycles(graph, "portreg.server") == []


def test_the_fast_path_and_the_page_do_not_import_the_app() -> None:
    graph = _graph()
    for module in ("portreg.server.fastpath", "portreg.server.page", "portreg.server.state"):
        assert not graph.chain_exists(importer=module, imported="portreg.server.app")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for m in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(m)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph, "p") == [["p.a", "p.b"]]
