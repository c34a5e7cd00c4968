"""The market survives a restart: coins and resting orders come back from the
database, and what a crash left half-done is reconciled with the ledger."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from ledger import HoldStatus, Ledger, user_account
from ledger.service_schema import brand_coins, market_orders
from ledger.sql import SqlStore
from service.market_state import MarketState

USER = user_account("bob")


def _market(url: str) -> MarketState:
    store = SqlStore(url)
    return MarketState(Ledger(store), store.engine)


def _with_resting_buy(url: str) -> tuple[MarketState, int]:
    m = _market(url)
    m.launch("HEATHER", "Heather's", "user:alice", initial_price=10, max_supply=None, allocation=None)
    m.ledger.mint(USER, 1000)
    order = m.submit("HEATHER", account=USER, side="buy", quantity=3, price=9)
    return m, order.id


def test_resting_orders_are_back_in_the_book_after_a_restart(sqlite_url):
    before, oid = _with_resting_buy(sqlite_url)
    after = _market(sqlite_url)
    assert after.restored == 1 and after.reconciled == 0
    assert after.exchange.book("HEATHER").depth("buy") == before.exchange.book("HEATHER").depth("buy")
    assert after.cancel(oid, USER).status == "cancelled"
    assert after.ledger.balance(USER) == 1000 and after.ledger.check().ok


def test_new_orders_after_a_restart_get_fresh_ids(sqlite_url):
    _, oid = _with_resting_buy(sqlite_url)
    after = _market(sqlite_url)
    assert after.submit("HEATHER", account=USER, side="buy", quantity=1, price=8).id > oid


def test_a_hold_without_an_order_row_is_returned_at_start_up(sqlite_url):
    m, _ = _with_resting_buy(sqlite_url)
    orphan = m.ledger.lock(USER, 50, ref_type="order", ref_id="999")  # a crash before the row was written
    after = _market(sqlite_url)
    assert after.ledger.get_hold(orphan.id).status == HoldStatus.VOIDED
    assert after.restored == 1 and after.ledger.check().ok


def test_an_order_row_that_disagrees_with_its_hold_is_cancelled_and_refunded(sqlite_url):
    m, oid = _with_resting_buy(sqlite_url)
    with m.engine.begin() as conn:
        conn.execute(update(market_orders).where(market_orders.c.id == oid).values(locked=1))
    after = _market(sqlite_url)
    assert after.restored == 0 and after.exchange.book("HEATHER").depth("buy") == []
    with after.engine.connect() as conn:
        row = conn.execute(select(market_orders).where(market_orders.c.id == oid)).one()
    assert (row.status, row.reason) == ("cancelled", "restart_reconcile")
    assert after.ledger.balance(USER) == 1000 and after.ledger.check().ok


def test_a_coin_recorded_but_never_launched_is_dropped(sqlite_url):
    m = _market(sqlite_url)
    with m.engine.begin() as conn:
        conn.execute(insert(brand_coins).values(symbol="GHOST", name="g", seller="user:x", max_supply=10,
                                                initial_price=1, launched_at=m.ledger.clock(), allocation=0,
                                                cliff_days=0, vesting_days=0))
    after = _market(sqlite_url)
    assert "GHOST" not in after.exchange.coins
    launched = after.launch("GHOST", "g", "user:x", initial_price=1, max_supply=10, allocation=0)
    assert launched.symbol == "GHOST"
