"""The process's one writer on PostgreSQL: ledger writes of concurrent requests share a
transaction, each keeps its own outcome, and a failed batch is rerun job by job."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from ledger import InsufficientFunds, Ledger, user_account
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
