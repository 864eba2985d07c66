"""The folders' boundaries: no top-level package imports one that imports it back, the
worker depends on the domains and never the other way, and only the gateway imports
`stripe`. Read from the source's import statements (TYPE_CHECKING ones included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _unit(module: str) -> str | None:
    """The top-level package a module belongs to: streamsvc.<name>, or workers."""
    parts = module.split(".")
    if parts[0] == "workers":
        return "workers"
    if parts[0] == "streamsvc" and len(parts) > 1:
        return f"streamsvc.{parts[1]}"
    return None


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _modules() -> Iterator[tuple[str, Path]]:
    for base in ("streamsvc", "workers"):
        for path in (ROOT / base).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield module.removesuffix(".__init__"), path


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in _modules():
        source = _unit(module)
        if source is None:
            continue
        for name in _imports(path):
            target = _unit(name)
            if target is not None and target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_package_imports_one_that_imports_it_back() -> None:
    assert _cycles(_edges()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_domain_imports_the_worker() -> None:
    # The composition roots (the app, its resources, the command line) build the Celery
    # app to enqueue and to run the worker; no domain does.
    edges = _edges()
    assert sorted(src for src, targets in edges.items() if "workers" in targets and
                  src not in ("streamsvc.app", "streamsvc.resources", "streamsvc.cli")) == []  # fmt: skip


def test_only_the_gateway_imports_stripe() -> None:
    importers = sorted(
        module for module, path in _modules()
        if any(name == "stripe" or name.startswith("stripe.") for name in _imports(path))
    )  # fmt: skip
    assert importers == ["streamsvc.payments.stripe_gateway"]
