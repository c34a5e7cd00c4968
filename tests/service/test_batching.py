"""Group commit: concurrent `apply` calls share commits and each keeps its own outcome."""

from __future__ import annotations

import threading

import pytest

from ledger import InsufficientFunds, Ledger, Posting, TransferRequest, user_account
from ledger.sql import SqlStore
from service.batching import BatchingStore


class CountingStore:
    """Wraps a store and records the size of every apply_many batch."""

    def __init__(self, inner) -> None:
        self.inner, self.batches = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def apply_many(self, requests, now):
        self.batches.append(len(requests))
        return self.inner.apply_many(requests, now)


@pytest.fixture
def batched(sqlite_url):
    counting = CountingStore(SqlStore(sqlite_url))
    store = BatchingStore(counting)
    yield Ledger(store), counting
    store.close()


def test_concurrent_writes_all_commit_and_errors_stay_their_own(batched):
    ledger, counting = batched
    ledger.mint(user_account("rich"), 1000)
    errors: list[Exception] = []

    def pay(i: int) -> None:
        try:
            src = "rich" if i % 2 else "poor"
            ledger.transfer(user_account(src), user_account(f"r{i}"), 10)
        except InsufficientFunds as err:
            errors.append(err)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 20
    assert ledger.balance(user_account("rich")) == 1000 - 20 * 10
    assert sum(counting.batches) == 41 and ledger.check().ok


def test_apply_many_passes_straight_through(batched):
    ledger, counting = batched
    reqs = [TransferRequest((Posting("system:mint", user_account("a"), "COIN", 1),), "ADMIN_GRANT")] * 3
    assert len(ledger.post_many(reqs)) == 3 and counting.batches == [3]


def test_a_closed_store_refuses_writes(sqlite_url):
    store = BatchingStore(SqlStore(sqlite_url))
    store.close()
    with pytest.raises(RuntimeError):
        store.apply(TransferRequest((Posting("system:mint", "user:a", "COIN", 1),), "ADMIN_GRANT"),
                    Ledger(SqlStore(sqlite_url)).clock())
