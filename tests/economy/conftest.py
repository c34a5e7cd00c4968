"""Fixtures for the economy tests: a fake Stripe server, and economies over each store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import Ledger, MemoryStore
from ledger.economy import Economy
from ledger.economy.config import load_config
from service.fake_stripe import FakeStripe
from tests.support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def _build(ledger: Ledger, fake: FakeStripe, overrides: dict[str, Any] | None) -> Economy:
    return Economy.build(ledger, load_config(overrides=overrides),
                         stripe_client=fake.client(max_network_retries=0),
                         webhook_secret=fake.webhook_secret)


@pytest.fixture
def make_economy(make_ledger, fake_stripe) -> Callable[..., Economy]:
    """`make_economy(overrides=..., clock=...)` over the store under test (memory, SQLite, PostgreSQL)."""

    def make(overrides: dict[str, Any] | None = None, **ledger_kw: Any) -> Economy:
        return _build(make_ledger(**ledger_kw), fake_stripe, overrides)

    return make


@pytest.fixture
def make_mem_economy(fake_stripe) -> Callable[..., Economy]:
    """The same over the in-memory store only (for tests of pure rules)."""

    def make(overrides: dict[str, Any] | None = None, **ledger_kw: Any) -> Economy:
        return _build(Ledger(MemoryStore(), **ledger_kw), fake_stripe, overrides)

    return make


@pytest.fixture(params=["sqlite", "postgres"])
def make_sql_economy(request, fake_stripe) -> Callable[..., Economy]:
    """Over the SQL stores only: where concurrency is real (threads, one engine)."""
    from ledger.sql import SqlStore

    def make(overrides: dict[str, Any] | None = None, **ledger_kw: Any) -> Economy:
        url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
        return _build(Ledger(SqlStore(url), **ledger_kw), fake_stripe, overrides)

    return make
