"""`SqlStore.session()`: many store calls of one thread in one database transaction."""

from __future__ import annotations

import threading

import pytest

from ledger import InsufficientFunds, Ledger, user_account
from ledger.sql import SqlStore

A, B, C, D = user_account("a"), user_account("b"), user_account("c"), user_account("d")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_writes_in_a_session_are_seen_inside_and_committed_at_the_end(url):
    ledger = Ledger(SqlStore(url))
    ledger.mint(A, 100)
    with ledger.store.session():
        ledger.transfer(A, B, 30)
        hold = ledger.lock(B, 10)  # reads its own new hold back inside the session
        assert ledger.balance(B) == 20 and ledger.store.get_hold(hold.id).amount == 10
        assert [h.id for h in ledger.store.holds(account=B)] == [hold.id]
    outside = SqlStore(url)
    assert outside.balance(B, "COIN") == 20 and outside.balance(A, "COIN") == 70
    assert ledger.check().ok


def test_other_connections_see_nothing_before_the_end(pg_url):
    # (SQLite has one writer and its readers wait for it, so this is PostgreSQL's view)
    ledger, outside = Ledger(SqlStore(pg_url)), SqlStore(pg_url)
    ledger.mint(A, 100)
    with ledger.store.session():
        ledger.transfer(A, B, 30)
        assert outside.balance(B, "COIN") == 0 and outside.balance(A, "COIN") == 100
    assert outside.balance(B, "COIN") == 30


def test_a_refused_request_inside_does_not_spoil_the_session(url):
    ledger = Ledger(SqlStore(url))
    ledger.mint(A, 10)
    with ledger.store.session():
        with pytest.raises(InsufficientFunds):
            ledger.transfer(A, B, 11)
        ledger.transfer(A, B, 4)
    assert ledger.balance(B) == 4 and ledger.check().ok


def test_an_error_inside_rolls_everything_back(url):
    ledger = Ledger(SqlStore(url))
    ledger.mint(A, 10)
    entries = len(ledger.store.entries())
    with pytest.raises(RuntimeError, match="boom"), ledger.store.session():
        ledger.transfer(A, B, 4)
        ledger.transfer(A, C, 5)
        raise RuntimeError("boom")
    assert ledger.balance(A) == 10 and ledger.balance(B) == ledger.balance(C) == 0
    assert len(ledger.store.entries()) == entries and ledger.check().ok
    ledger.transfer(A, B, 4)  # and the store works as before afterwards
    assert ledger.balance(B) == 4


def test_sessions_do_not_nest(url):
    store = SqlStore(url)
    with store.session(), pytest.raises(RuntimeError, match="already open"), store.session():
        pass


def test_other_threads_commit_on_their_own_during_a_session(pg_url):
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(A, 10)
    ledger.mint(C, 10)
    with ledger.store.session():
        ledger.transfer(A, B, 1)
        t = threading.Thread(target=ledger.transfer, args=(C, D, 2, "COIN"))  # other rows: no wait
        t.start()
        t.join(10)
        assert not t.is_alive()
        assert SqlStore(pg_url).balance(D, "COIN") == 2  # the other thread's write is committed
        assert SqlStore(pg_url).balance(B, "COIN") == 0  # this thread's is not, yet
    assert ledger.balance(B) == 1 and ledger.check().ok
