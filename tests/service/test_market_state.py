"""The market survives a restart: coins and resting orders come back from the
database, and what a crash left half-done is reconciled with the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from ledger import HoldStatus, Ledger, user_account
from ledger.sql import SqlStore
from service.market_state import MarketState
from service.tables import brand_coins, market_orders
from service.writer import Writer
from tests.support.batches import one_batch, record_batch_sizes

USER = user_account("bob")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def _market(url: str) -> MarketState:
    """As the service builds it: on PostgreSQL its jobs run on the process's writer."""
    store = SqlStore(url)
    writer = Writer(store) if store.dialect == "postgresql" else None
    return MarketState(Ledger(store), store.engine, writer=writer)


def _with_resting_buy(url: str) -> tuple[MarketState, int]:
    m = _market(url)
    m.launch("HEATHER", "Heather's", "user:alice", initial_price=10, max_supply=None, allocation=None)
    m.ledger.mint(USER, 1000)
    order = m.submit("HEATHER", account=USER, side="buy", quantity=3, price=9)
    return m, order.id


def test_resting_orders_are_back_in_the_book_after_a_restart(url):
    before, oid = _with_resting_buy(url)
    after = _market(url)
    assert after.restored == 1 and after.reconciled == 0
    assert after.exchange.book("HEATHER").depth("buy") == before.exchange.book("HEATHER").depth("buy")
    assert after.cancel(oid, USER).status == "cancelled"
    assert after.ledger.balance(USER) == 1000 and after.ledger.check().ok


def test_the_robust_price_survives_a_restart(url):
    m = _market(url)
    m.launch("HEATHER", "Heather's", "user:alice", initial_price=10, max_supply=None, allocation=None)
    m.run("HEATHER", lambda ex: ex.airdrop("HEATHER", ["user:mm"], 100))
    m.submit("HEATHER", account="user:mm", side="sell", quantity=100, price=11)
    for i in range(5):
        m.ledger.mint(f"user:b{i}", 10_000)
        m.submit("HEATHER", account=f"user:b{i}", side="buy", quantity=20, price=11)
    assert m.exchange.reference_price("HEATHER") == 11
    assert _market(url).exchange.reference_price("HEATHER") == 11


def test_new_orders_after_a_restart_get_fresh_ids(url):
    _, oid = _with_resting_buy(url)
    after = _market(url)
    assert after.submit("HEATHER", account=USER, side="buy", quantity=1, price=8).id > oid


def test_a_hold_without_an_order_row_is_returned_at_start_up(url):
    m, _ = _with_resting_buy(url)
    orphan = m.ledger.lock(USER, 50, ref_type="order", ref_id="999")  # a crash before the row was written
    after = _market(url)
    assert after.ledger.get_hold(orphan.id).status == HoldStatus.VOIDED
    assert after.restored == 1 and after.ledger.check().ok


def test_an_order_row_that_disagrees_with_its_hold_is_cancelled_and_refunded(url):
    m, oid = _with_resting_buy(url)
    with m.engine.begin() as conn:
        conn.execute(update(market_orders).where(market_orders.c.id == oid).values(locked=1))
    after = _market(url)
    assert after.restored == 0 and after.exchange.book("HEATHER").depth("buy") == []
    with after.engine.connect() as conn:
        row = conn.execute(select(market_orders).where(market_orders.c.id == oid)).one()
    assert (row.status, row.reason) == ("cancelled", "restart_reconcile")
    assert after.ledger.balance(USER) == 1000 and after.ledger.check().ok


def test_a_coin_recorded_but_never_launched_is_dropped(url):
    m = _market(url)
    with m.engine.begin() as conn:
        conn.execute(insert(brand_coins).values(symbol="GHOST", name="g", seller="user:x", max_supply=10,
                                                initial_price=1, launched_at=m.ledger.clock(), allocation=0,
                                                cliff_days=0, vesting_days=0))
    after = _market(url)
    assert "GHOST" not in after.exchange.coins
    launched = after.launch("GHOST", "g", "user:x", initial_price=1, max_supply=10, allocation=0)
    assert launched.symbol == "GHOST"


# -- the sequencer on PostgreSQL: one transaction per batch of jobs ------------------------
def _books_match_holds_and_rows(m: MarketState, url: str) -> None:
    live = {o.hold_id: o.locked for o in m.exchange.live.values()}
    locked = {h.id: h.amount for h in m.ledger.store.holds(status=HoldStatus.LOCKED) if h.ref_type == "order"}
    assert live == locked
    again = _market(url)  # what the database says the books are
    for sym in m.exchange.markets:
        for side in ("buy", "sell"):
            assert again.exchange.book(sym).depth(side) == m.exchange.book(sym).depth(side)
    assert again.reconciled == 0 and m.ledger.check().ok


def test_concurrent_orders_share_transactions_and_match_the_database(pg_url):
    import threading

    m = _market(pg_url)
    m.launch("HEATHER", "Heather's", "user:alice", initial_price=10, max_supply=None, allocation=None)
    users = [user_account(f"t{i}") for i in range(8)]
    for u in users:
        m.ledger.mint(u, 10_000)
    m.run("HEATHER", lambda ex: ex.airdrop("HEATHER", users, 100))
    sizes = record_batch_sizes(m.writer._group)

    def trade(i: int) -> None:
        for n in range(10):
            m.submit("HEATHER", account=users[i], side="buy" if (i + n) % 2 else "sell", quantity=1 + n % 3,
                     price=9 + n % 3)

    threads = [threading.Thread(target=trade, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(sizes) == 80 and max(sizes) > 1  # batches formed
    assert len(m.trades("HEATHER")) > 0
    _books_match_holds_and_rows(m, pg_url)


def test_a_failed_batch_is_rolled_back_and_its_jobs_rerun_one_by_one(pg_url):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    m, _ = _with_resting_buy(pg_url)
    seller = user_account("sally")
    m.run("HEATHER", lambda ex: ex.airdrop("HEATHER", [seller], 10))
    failed = {"once": False}

    def bad(ex):  # a database error in the middle of a batch (e.g. a deadlock victim)
        if not failed["once"]:
            failed["once"] = True
            m.writer.conn.execute(text("SELECT 1/0"))
        return "ran alone"

    results, sizes = one_batch(m.writer, {
        "x": lambda: m.submit("HEATHER", account=seller, side="sell", quantity=2, price=9),  # trades
        "bad": lambda: m.run("HEATHER", bad),
        "y": lambda: m.submit("HEATHER", account=USER, side="buy", quantity=1, price=8)})
    assert sizes == [3]  # x, bad and y were one batch: x's fill was made, rolled back, made again
    assert results["bad"] == "ran alone" and not isinstance(results["x"], DBAPIError)
    assert results["x"].status == "filled" and results["y"].status == "open"
    assert m.ledger.balance(seller, "HEATHER") == 8
    _books_match_holds_and_rows(m, pg_url)
