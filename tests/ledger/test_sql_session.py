"""`SqlStore.session()`: many store calls of one thread in one database transaction."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger import InsufficientFunds, Ledger, user_account
from ledger.sql import SqlStore
from tests.support.statements import record_statements

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


def _random_workload(ledger: Ledger, seed: int) -> list[str]:
    """Transfers, keyed retries, locks, partial captures, voids and refusals; returns
    what each call did, so two ledgers can be compared call by call."""
    import random

    from ledger import LedgerError, Posting
    from ledger.model import ESCROW

    rng = random.Random(seed)
    users = [user_account(f"w{i}") for i in range(6)]
    holds: list[str] = []
    out = []
    for _ in range(120):
        r = rng.random()
        try:
            if r < 0.4:
                a, b = rng.sample(users, 2)
                key = f"k{rng.randrange(15)}" if rng.random() < 0.3 else None
                tx = ledger.transfer(a, b, rng.randint(1, 40), key=key)
                out.append(f"transfer {tx.replayed}")
            elif r < 0.6:
                h = ledger.lock(rng.choice(users), rng.randint(1, 30))
                holds.append(h.id)
                out.append(f"lock {h.amount}")
            elif r < 0.8 and holds:
                h = ledger.store.get_hold(rng.choice(holds))
                take = rng.randint(1, h.amount)
                legs = [Posting(ESCROW, rng.choice(users), "COIN", take)]
                ledger.capture(h.id, legs, settle=take == h.amount)
                out.append(f"capture {take}")
            elif holds:
                out.append(f"void {ledger.void(rng.choice(holds)).amount}")
        except LedgerError as err:
            out.append(type(err).__name__)
        out.append(",".join(str(ledger.balance(u)) for u in users))
    return out


def test_a_session_does_exactly_what_the_same_calls_do_one_by_one(url):
    """The session's working book and bulk write against the in-memory ledger."""
    from ledger import MemoryStore
    from ledger import user_account as ua

    plain, batched = Ledger(MemoryStore()), Ledger(SqlStore(url))
    for ledger in (plain, batched):
        for i in range(6):
            ledger.mint(ua(f"w{i}"), 100)
    with batched.store.session():
        got = _random_workload(batched, seed=5)
    assert got == _random_workload(plain, seed=5)
    assert {ua(f"w{i}"): batched.balance(ua(f"w{i}")) for i in range(6)} == \
           {ua(f"w{i}"): plain.balance(ua(f"w{i}")) for i in range(6)}
    strip = lambda hs: sorted((h.account, h.amount, h.status) for h in hs)  # noqa: E731
    assert strip(batched.store.holds()) == strip(plain.store.holds())
    journal = lambda lg: [(e.entry_type, e.from_account, e.to_account, e.amount, e.from_after, e.to_after)  # noqa: E731
                          for e in lg.store.entries()]
    assert journal(batched) == journal(plain)
    assert batched.check().ok and plain.check().ok


def test_prelocked_rows_are_locked_with_the_next_rows_the_session_locks(pg_url):
    ledger, outside = Ledger(SqlStore(pg_url)), SqlStore(pg_url)
    ledger.mint(A, 100)
    ledger.mint(B, 100)

    def locked(account: str) -> bool:
        with outside.engine.connect() as conn:
            try:
                conn.execute(text("SELECT 1 FROM balances WHERE account = :a FOR UPDATE NOWAIT"), {"a": account})
                return False
            except DBAPIError:
                return True

    ledger.store.prelock([(A, "COIN")])  # outside a session: nothing to lock with
    with ledger.store.session():
        ledger.store.prelock([(A, "COIN"), (D, "COIN"), (A, "NO_SUCH_ASSET")])
        assert not locked(A)  # asked for, not locked yet: it goes with the next statement
        ledger.transfer(B, C, 10)  # locks B and C, and A with them
        assert locked(A) and locked(B)
        ledger.transfer(A, D, 5)  # A's row is already locked: the balance it had then is used
    assert outside.balance(A, "COIN") == 95 and outside.balance(D, "COIN") == 5 and ledger.check().ok


def test_probed_keys_are_looked_up_with_the_writes_keys_in_one_query(url, monkeypatch):
    ledger = Ledger(SqlStore(url))
    ledger.mint(A, 10, key="old")
    queries = record_statements(ledger.store, monkeypatch)
    with ledger.store.session():
        ledger.store.probe_keys({"old", "never"})
        ledger.mint(B, 5, key="new")  # loads its key, and the probed ones with it
        looked_up = len(queries)
        assert ledger.store.existing_keys({"old", "never"}) == {"old"}
        assert len(queries) == looked_up  # answered without a query
        assert ledger.store.existing_keys({"old", "new"}) == {"old"}  # "new" was not probed: a query
        assert len(queries) == looked_up + 1
    assert sum("idempotency_keys" in q and q.lstrip().startswith("SELECT") for q, _ in queries) == 2
    ledger.store.probe_keys({"new"})  # outside a session: nothing to join
    assert ledger.store.existing_keys({"new", "never"}) == {"new"}


def test_a_balance_read_in_a_session_locks_the_row_it_read(pg_url):
    # The market checks funds, then locks them: the read takes the row lock, so nobody
    # can change the balance between the check and the write.
    ledger, outside = Ledger(SqlStore(pg_url)), SqlStore(pg_url)
    ledger.mint(A, 100)
    with ledger.store.session():
        assert ledger.balance(A) == 100
        with outside.engine.connect() as conn, pytest.raises(DBAPIError, match="could not obtain lock"):
            conn.execute(text("SELECT balance FROM balances WHERE account = :a FOR UPDATE NOWAIT"), {"a": A})
        ledger.transfer(A, B, 40)
        assert ledger.balance(A) == 60 and ledger.balance(C) == 0  # a missing row reads 0
    assert outside.balance(A, "COIN") == 60 and ledger.check().ok
