"""The layout of DESIGN.md section 2, read from the source with ast: no import cycles
between the project's modules (Mesa's sim.agents/sim.model pair aside), the ledger core
imports nothing from the layers built on it, and every package says its public names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "market", "service", "sim", "dashboards", "coinlab_cli")
ALLOWED_CYCLE = {"sim.agents", "sim.model"}  # Mesa's convention: the model makes agents, agents see the model
ABOVE_THE_CORE = ("ledger.economy", "market", "service", "sim", "dashboards", "coinlab_cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules ``name`` imports, anywhere in it (lazy imports count too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = ".".join(filter(None, [base if node.level else "", node.module or ""]))
            # `from pkg import mod` needs the submodule (running pkg/__init__ first is the
            # parent-package import every submodule has); `from pkg import name` needs pkg.
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [s if s in known else base for s in subs]
        else:
            continue
        yield from (t for t in targets if t in known and t != name)


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {name: set(_imports(name, path, known)) for name, path in sources.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_sees_the_imports_it_must():
    graph = _graph()
    assert "ledger.economy.config" in graph["ledger.economy.rules"]  # relative
    assert "ledger.economy.schema" in graph["ledger.economy.payment_store"]  # `from . import schema`, in a function
    assert "ledger.sql.schema" in graph["dashboards.export"]  # `from ledger.sql import schema as s`
    assert "ledger" in graph["market.settlement"]  # `from ledger import Ledger`: the package
    assert "market" not in graph["market.exchange"]  # `from . import coins`: only the submodule


def test_no_import_cycles_but_mesas_agents_and_model():
    assert [c for c in _cycles(_graph()) if c != ALLOWED_CYCLE] == []


def test_a_cycle_is_found_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_ledger_core_imports_nothing_built_on_it():
    graph = _graph()
    core = [m for m in graph if m.split(".")[0] == "ledger" and not m.startswith("ledger.economy")]
    assert "ledger.sql.store" in core and "ledger.migrations.env" in core
    offending = {m: sorted(t for t in graph[m] if t.startswith(ABOVE_THE_CORE)) for m in core}
    assert {m: ts for m, ts in offending.items() if ts} == {}


def test_every_package_lists_its_public_names():
    missing = []
    for name, path in _sources().items():
        if path.name != "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        assigned = {t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)}
        if "__all__" not in assigned:
            missing.append(name)
    assert missing == []
