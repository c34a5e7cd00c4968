"""Fixtures for the ledger tests: a clock the test moves by hand, a ledger over each
store (via the top-level `make_ledger`), a memory-only ledger for tests that reach into
the in-memory store, and a snapshot of everything a store holds, to prove that a
rejected request changed nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import Ledger, MemoryStore
from tests.support.clock import Clock

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STORES = ("memory", "sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cases(argnames, values, ids=None, everywhere=1): parametrize a store-parametrized "
        "test over many input cases: every case runs on the memory store, the first "
        "`everywhere` cases on every store",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Expand `@pytest.mark.cases` into one parametrize over (store_kind, *argnames).

    The rules these matrices probe (amount types, address syntax, the hold state
    machine) live in the one engine both stores share, so running every case on
    PostgreSQL and SQLite would cost a database per case and prove nothing more; a
    sample of them still runs there to show the SQL store reports them the same way."""
    mark = metafunc.definition.get_closest_marker("cases")
    if mark is None:
        return
    argnames, values = mark.args
    names = [n.strip() for n in argnames.split(",")]
    ids = mark.kwargs.get("ids") or [None] * len(values)
    everywhere = mark.kwargs.get("everywhere", 1)
    params = []
    for i, (value, case_id) in enumerate(zip(values, ids, strict=True)):
        args = tuple(value) if len(names) > 1 else (value,)
        for store in STORES if i < everywhere else ("memory",):
            label = f"{store}-{case_id if case_id is not None else i}"
            params.append(pytest.param(store, *args, id=label))
    metafunc.definition.add_marker(pytest.mark.parametrize(["store_kind", *names], params))


def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    """Every stored balance, every journal row and every hold, in a comparable form."""
    store = ledger.store
    return (
        sorted(store.stored_balances()),
        list(store.iter_journal()),
        sorted(store.all_holds(), key=lambda h: h.id),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], clock: Clock) -> Iterator[Ledger]:
    """A fresh ledger over the store under test (memory, SQLite, PostgreSQL)."""
    ledger = make_ledger(clock=clock)
    yield ledger
    engine = getattr(ledger.store, "engine", None)
    if engine is not None:
        engine.dispose()  # one database per test: do not leave its connections open


@pytest.fixture
def memory_ledger(clock: Clock) -> Ledger:
    """A fresh in-memory ledger, for tests that tamper with the store's Book."""
    return Ledger(MemoryStore(), clock=clock)


@pytest.fixture
def unchanged(ledger: Ledger):
    """`with unchanged(): ...` fails if the block changed anything in the ledger."""
    from contextlib import contextmanager

    @contextmanager
    def guard():
        before = snapshot(ledger)
        yield
        assert snapshot(ledger) == before, "a rejected request changed the ledger"

    return guard
