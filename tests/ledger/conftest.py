"""Fixtures for the ledger tests: a clock the test moves by hand, a ledger over each
store (via the top-level `make_ledger`), a memory-only ledger for tests that reach into
the in-memory store, and a snapshot of everything a store holds, to prove that a
rejected request changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import Ledger, MemoryStore

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A fixed clock: ``now`` only moves when the test calls ``advance``."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


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
    return Clock()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger], clock: Clock) -> Ledger:
    """A fresh ledger over the store under test (memory, SQLite, PostgreSQL)."""
    return make_ledger(clock=clock)


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
