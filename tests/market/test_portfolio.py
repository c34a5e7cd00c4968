from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.portfolio import Movement, Position, portfolio, positions, value
from market.trades import Trade

T0 = datetime(2026, 3, 1, tzinfo=UTC)
S = timedelta(seconds=1)
ALICE, BOB = "user:alice", "user:bob"


def buy(i: int, who: str, price: int, qty: int, fee: int = 0, frm: str = BOB, sym: str = "HEATHER") -> Trade:
    return Trade(i, sym, T0 + i * S, price, qty, price * qty, who, frm, "buy", buyer_fee=fee)


def sell(i: int, who: str, price: int, qty: int, fee: int = 0, to: str = BOB, sym: str = "HEATHER") -> Trade:
    return Trade(i, sym, T0 + i * S, price, qty, price * qty, to, who, "sell", seller_fee=fee)


def pos(trades, moves=()) -> Position:
    return positions(trades, moves, account=ALICE)[ALICE, "HEATHER"]


def test_buys_average_their_cost_including_fees():
    p = pos([buy(1, ALICE, 10, 10, fee=2), buy(2, ALICE, 20, 10, fee=4)])
    assert (p.quantity, p.cost, p.fees) == (20, 306, 6)
    assert p.average_cost == Fraction(306, 20)


def test_sale_realizes_against_average_cost_net_of_fee():
    p = pos([buy(1, ALICE, 10, 10), buy(2, ALICE, 20, 10), sell(3, ALICE, 30, 5, fee=3)])
    # basis 300 for 20; selling 5 removes 75; proceeds 150 - 3
    assert (p.quantity, p.cost, p.realized) == (15, 225, 150 - 3 - 75)


def test_closing_a_position_leaves_no_cost_dust():
    p = pos([buy(1, ALICE, 10, 3), buy(2, ALICE, 11, 4), sell(3, ALICE, 12, 5), sell(4, ALICE, 9, 2)])
    assert (p.quantity, p.cost) == (0, 0)
    assert p.realized == (12 * 5 + 9 * 2) - (10 * 3 + 11 * 4)


def test_earned_coins_have_zero_cost():
    moves = [Movement(T0, ALICE, "HEATHER", "earn", 50), Movement(T0, ALICE, "HEATHER", "airdrop", 50)]
    p = pos([buy(1, ALICE, 10, 100)], moves)
    assert (p.quantity, p.cost, p.acquired) == (200, 1000, 100)
    assert value(p, 10).unrealized == 1000


def test_transfer_out_and_redeem_reduce_quantity_at_average_cost_without_pnl():
    moves = [Movement(T0 + 5 * S, ALICE, "HEATHER", "transfer_out", 4),
             Movement(T0 + 6 * S, ALICE, "HEATHER", "redeem", 2)]
    p = pos([buy(1, ALICE, 10, 10)], moves)
    assert (p.quantity, p.cost, p.realized, p.disposed) == (4, 40, 0, 6)


def test_unrealized_and_total_pnl_at_a_price():
    p = pos([buy(1, ALICE, 10, 10), sell(2, ALICE, 15, 4)])
    v = value(p, 8)
    assert (v.market_value, v.unrealized, v.total_pnl) == (48, 48 - 60, 20 + (48 - 60))


def test_selling_coins_never_seen_arriving_counts_them_as_zero_cost():
    p = pos([sell(1, ALICE, 5, 10)])
    assert (p.quantity, p.cost, p.realized, p.untracked) == (0, 0, 50, 10)


def test_movements_are_applied_in_time_order_with_trades():
    moves = [Movement(T0 + 2 * S, ALICE, "HEATHER", "earn", 10)]
    p = pos([buy(1, ALICE, 10, 10), sell(3, ALICE, 10, 20)], moves)
    assert (p.quantity, p.untracked, p.realized) == (0, 0, 200 - 100)


def test_portfolio_lists_positions_by_value():
    trades = [buy(1, ALICE, 10, 10), buy(2, ALICE, 1, 5, sym="BOB"), buy(3, BOB, 1, 5, frm=ALICE, sym="X")]
    rows = portfolio(ALICE, trades, [], {"HEATHER": 12, "BOB": 1})
    assert [(r.position.symbol, r.market_value) for r in rows] == [("HEATHER", 120), ("BOB", 5), ("X", 0)]


def test_bad_movement_is_refused():
    with pytest.raises(ValueError):
        positions([], [Movement(T0, ALICE, "HEATHER", "steal", 1)])
    with pytest.raises(ValueError):
        positions([], [Movement(T0, ALICE, "HEATHER", "earn", 0)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 100), st.integers(1, 20)), max_size=40))
def test_pnl_identity_holds_for_any_stream(ops):
    """realized + unrealized(price) == money out - money in + quantity * price, exactly."""
    trades = [buy(i, ALICE, p, q) if is_buy else sell(i, ALICE, p, q) for i, (is_buy, p, q) in enumerate(ops)]
    p = pos(trades) if trades else Position(ALICE, "HEATHER")
    spent = sum(t.quote for t in trades if t.buyer == ALICE)
    got = sum(t.quote for t in trades if t.seller == ALICE)
    assert p.quantity >= 0 and p.cost >= 0
    assert value(p, 7).total_pnl == got - spent + 7 * p.quantity
