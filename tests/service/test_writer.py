"""The process's one writer on PostgreSQL: ledger writes of concurrent requests share a
transaction, each keeps its own outcome, and a failed batch is rerun job by job."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import InsufficientFunds, Ledger, Posting, TransferRequest, user_account
from ledger.sql import SqlStore
from service.batching import BatchingStore
from service.writer import Writer
from tests.support.batches import one_batch, record_batch_sizes


@pytest.fixture
def setup(pg_url):
    store = SqlStore(pg_url)
    writer = Writer(store)
    sizes = record_batch_sizes(writer._group)
    yield Ledger(BatchingStore(store, writer=writer)), writer, sizes
    writer.close()
    store.engine.dispose()


def test_concurrent_writes_share_transactions_and_keep_their_own_outcomes(setup):
    ledger, _, sizes = setup
    ledger.mint(user_account("rich"), 1000)
    errors: list[Exception] = []

    def pay(i: int) -> None:
        try:
            ledger.transfer(user_account("rich" if i % 2 else "poor"), user_account(f"r{i % 5}"), 10,
                            key=f"pay{i}")
        except InsufficientFunds as err:
            errors.append(err)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 30 and ledger.balance(user_account("rich")) == 1000 - 30 * 10
    assert sum(sizes) == 61 and max(sizes) > 1  # batches formed
    assert ledger.transfer(user_account("rich"), user_account("r1"), 10, key="pay1").replayed  # keys hold
    assert ledger.check().ok


def test_a_failed_batch_reruns_each_job_alone(setup):
    ledger, writer, sizes = setup
    ledger.mint(user_account("a"), 100)
    tripped = threading.Event()

    def bad():
        if not tripped.is_set():
            tripped.set()
            writer.conn.execute(text("SELECT 1/0"))  # e.g. a deadlock victim
        return "alone"

    results, _ = one_batch(writer, {"first": lambda: ledger.transfer(user_account("a"), user_account("b"), 30),
                                 "bad": lambda: writer.run(bad),
                                 "last": lambda: ledger.transfer(user_account("a"), user_account("c"), 40)})
    assert sizes[-1] == 3 and results["bad"] == "alone"  # one batch of three, rolled back, rerun
    assert ledger.balance(user_account("a")) == 30 and ledger.balance(user_account("b")) == 30
    assert ledger.balance(user_account("c")) == 40 and ledger.check().ok


def test_submitted_writes_join_one_batch_and_keep_their_own_outcomes(setup):
    ledger, writer, _ = setup
    ledger.mint(user_account("rich"), 100)
    gate, busy = threading.Event(), threading.Event()
    writer.submit(lambda: (busy.set(), gate.wait(10)))  # hold the writer while the writes queue
    busy.wait(10)
    sizes = record_batch_sizes(writer._group)
    pay = [TransferRequest((Posting(user_account("rich"), user_account(f"r{i}"), "COIN", 30),), "TRANSFER")
           for i in range(4)]
    futures = [writer.submit_write(r, ledger.clock()) for r in pay]
    gate.set()
    outcomes = [f.exception(10) or f.result() for f in futures]
    assert sizes[0] == 4  # the four writes, one batch
    assert [type(o).__name__ for o in outcomes] == ["Transaction"] * 3 + ["InsufficientFunds"]
    assert ledger.balance(user_account("rich")) == 10 and ledger.check().ok


def test_a_jobs_row_hint_is_locked_before_the_batch_runs_and_a_failing_hint_is_ignored(setup, pg_url):
    ledger, writer, _ = setup
    ledger.mint(user_account("a"), 100)
    outside = SqlStore(pg_url)

    def a_is_locked() -> bool:
        with outside.engine.connect() as conn:
            try:
                conn.execute(text("SELECT 1 FROM balances WHERE account = 'user:a' FOR UPDATE NOWAIT"))
                return False
            except DBAPIError:
                return True

    def pay_b() -> bool:  # touches b and mint, not a: a is locked only because the hint named it
        ledger.mint(user_account("b"), 5)
        return a_is_locked()

    assert writer.submit(pay_b, rows=lambda: [(user_account("a"), "COIN")]).result(10) is True
    assert writer.submit(pay_b).result(10) is False
    assert writer.submit(lambda: "ran", rows=lambda: 1 / 0).result(10) == "ran"
    assert ledger.balance(user_account("b")) == 10 and ledger.check().ok
    outside.engine.dispose()


def test_an_async_route_posts_through_the_writer_without_the_thread_pool(pg_url, monkeypatch):
    import asyncio

    import service.state
    from service.state import ServiceState
    from tests.service.conftest import settings_for

    def no_thread_pool(*_a, **_k):
        raise AssertionError("the thread pool was used")

    state = ServiceState(settings_for(pg_url))
    try:
        monkeypatch.setattr(service.state, "run_in_threadpool", no_thread_pool)
        state.ledger.mint(user_account("a"), 50)

        async def both():
            return await asyncio.gather(*(state.post(TransferRequest(
                (Posting(user_account("a"), user_account("b"), "COIN", 20),), "TRANSFER", idempotency_key=f"k{i}"))
                for i in range(3)), return_exceptions=True)

        outcomes = asyncio.run(both())
        assert sorted(type(o).__name__ for o in outcomes) == ["InsufficientFunds", "Transaction", "Transaction"]
        assert state.ledger.balance(user_account("b")) == 40
    finally:
        state.close()


def test_daily_logins_on_postgres_count_the_streak_with_the_writers_batch(pg_url, monkeypatch):
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    import service.routes.coins
    from service.app import create_app
    from service.state import ServiceState
    from tests.service.conftest import Creds, settings_for

    def no_thread_pool(*_a, **_k):
        raise AssertionError("the thread pool was used")

    settings = settings_for(pg_url)
    state = ServiceState(settings)
    now = [datetime(2026, 3, 1, 8, tzinfo=UTC)]
    monkeypatch.setattr(state.ledger, "clock", lambda: now[0])
    monkeypatch.setattr(service.routes.coins, "run_in_threadpool", no_thread_pool)
    headers = Creds(state.keys).app_as("alice")
    seen = []
    with TestClient(create_app(settings, state)) as client:
        for day in (1, 2, 3, 4, 5, 6, 7, 9):
            now[0] = datetime(2026, 3, day, 8, tzinfo=UTC)
            r = client.post("/api/coins/daily-login", headers=headers)
            assert r.status_code == 200, r.text
            seen.append((r.json()["streakLength"], r.json()["streakBonus"]))
    assert seen == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 10), (1, 0)]  # day 8 missed
    assert r.json()["balance"] == 8 * 2 + 10
    assert state.ledger.check().ok
