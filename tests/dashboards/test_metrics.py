"""Each metric against a tiny warehouse computed by hand (see the comments for the sums)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dashboards import metrics as m
from dashboards.warehouse import connect
from sim.warehouse import rows_to_columns, write_table

RUN = "hand"
D1, D2, D3 = (datetime(2026, 1, d, 10, 0, tzinfo=UTC) for d in (1, 2, 3))


def _e(i, t, typ, asset, amount, frm, to, fa, ta):
    return {"id": i, "tx_id": str(i), "time": t, "entry_type": typ, "asset": asset, "amount": amount,
            "from_account": frm, "to_account": to, "from_before": fa + amount, "from_after": fa,
            "to_before": ta - amount, "to_after": ta}


ENTRIES = [
    _e(1, D1, "GUEST_INITIAL", "COIN", 100, "system:mint", "user:a", -100, 100),
    _e(2, D1, "SIGNUP_BONUS", "COIN", 50, "system:mint", "user:b", -150, 50),
    _e(10, D1, "REVENUE", "USD", 499, "external:stripe", "platform:revenue", -499, 499),
    _e(3, D2, "REDEEM_BURN", "COIN", 30, "user:a", "system:burn", 70, 30),
    _e(4, D2, "COIN_PURCHASE_REFUND", "COIN", 10, "user:b", "system:mint", 40, -140),
    _e(5, D2, "TRANSFER", "COIN", 20, "user:a", "user:b", 50, 60),
    _e(6, D2, "HOLD_LOCK", "COIN", 5, "user:a", "system:escrow", 45, 5),
    _e(7, D3, "VOTE_SPENT", "COIN", 6, "user:b", "platform:revenue", 54, 6),
    _e(8, D3, "REVENUE", "USD", 999, "external:stripe", "platform:revenue", -1498, 1498),
    _e(9, D3, "REVENUE_REFUND", "USD", 499, "platform:revenue", "external:stripe", 999, -999),
]
# Final COIN holdings: holders a..d hold 10, 20, 30, 40; e holds nothing; house accounts excluded.
ACCOUNTS = [{"account": a, "kind": a.split(":")[0], "asset": "COIN", "balance": b, "allow_negative": False,
             "frozen": False} for a, b in [("user:a", 10), ("user:b", 20), ("user:c", 30), ("user:d", 40),
                                           ("user:e", 0), ("platform:revenue", 50), ("system:mint", -150)]]
PAYMENTS = [
    {"session_id": "p1", "user_id": "a", "package_id": "small", "price_cents": 999, "currency": "usd",
     "base_coins": 999, "bonus_coins": 25, "status": "paid", "created_at": D3, "updated_at": D3, "paid_at": D3,
     "refunded_cents": 499, "coins_clawed_back": 0, "shortfall_coins": 0, "disputed": False},
    {"session_id": "p2", "user_id": "a", "package_id": "starter", "price_cents": 499, "currency": "usd",
     "base_coins": 499, "bonus_coins": 1, "status": "paid", "created_at": D1, "updated_at": D1, "paid_at": D1,
     "refunded_cents": 0, "coins_clawed_back": 0, "shortfall_coins": 0, "disputed": False},
    {"session_id": "p3", "user_id": "b", "package_id": "medium", "price_cents": 1999, "currency": "usd",
     "base_coins": 1999, "bonus_coins": 100, "status": "expired", "created_at": D2, "updated_at": D2,
     "refunded_cents": 0, "coins_clawed_back": 0, "shortfall_coins": 0, "disputed": False},
]


def _trade(i, t, price, qty, buyer, seller):
    return {"trade_id": i, "symbol": "SHOP1", "time": t, "price": price, "quantity": qty, "quote": price * qty,
            "buyer": buyer, "seller": seller, "taker_side": "buy", "buyer_fee": 1, "seller_fee": 1}


TRADES = [_trade(1, D2.replace(minute=5), 100, 2, "user:a", "user:b"),
          _trade(2, D3.replace(minute=10), 110, 1, "user:a", "user:c"),
          _trade(3, D3.replace(minute=50), 105, 3, "user:c", "user:b")]
ORDERS = [{"order_id": i, "symbol": "SHOP1", "account": "user:a", "side": side, "kind": "limit", "price": p,
           "quantity": q, "filled": 0, "remaining": q if st == "open" else 0, "status": st, "created_at": D1}
          for i, side, p, q, st in [(1, "buy", 90, 5, "open"), (2, "buy", 95, 2, "open"), (3, "sell", 120, 4, "open"),
                                    (4, "sell", 130, 1, "open"), (5, "buy", 99, 3, "filled")]]
ALERTS = [{"time": D2, "kind": "defense", "symbol": "SHOP1", "name": "price_band", "action": "rejected"},
          {"time": D3, "kind": "defense", "symbol": "SHOP1", "name": "circuit_breaker", "action": "paused"},
          {"time": D3.replace(hour=11), "kind": "defense", "symbol": "SHOP1", "name": "circuit_breaker",
           "action": "resumed"}]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand")
    for table, rows in [("entries", ENTRIES), ("accounts", ACCOUNTS), ("payments", PAYMENTS), ("trades", TRADES),
                        ("orders", ORDERS), ("alerts", ALERTS)]:
        write_table(root, table, RUN, rows_to_columns(table, rows))
    return connect(root)


def test_supply_daily_counts_mint_unmint_and_burn(con):
    rows = m.supply_daily(con, RUN, "COIN").select("day", "issued", "unminted", "burned", "net_flow", "supply").rows()
    # day 1: 100 + 50 minted; day 2: 10 back to the mint, 30 burned -> -40.
    assert rows == [(date(2026, 1, 1), 150, 0, 0, 150, 150), (date(2026, 1, 2), 0, 10, 30, -40, 110)]


def test_velocity_leaves_out_mint_burn_and_escrow_round_trips(con):
    rows = m.velocity_daily(con, RUN, "COIN").rows()
    # day 2: only the 20-coin transfer moves ownership; day 3: the 6-coin vote, supply still 110.
    assert rows == [(date(2026, 1, 1), 0, 150, 0.0), (date(2026, 1, 2), 20, 110, pytest.approx(20 / 110)),
                    (date(2026, 1, 3), 6, 110, pytest.approx(6 / 110))]


def test_concentration_of_ten_twenty_thirty_forty(con):
    c = m.concentration(con, RUN, "COIN")
    # Gini = 2*(1*10+2*20+3*30+4*40)/(4*100) - 5/4 = 0.25; HHI = .01+.04+.09+.16;
    # top 1% = the single largest (40%); 40 is not more than half, 40+30 is.
    assert (c.holders, c.total, c.nakamoto) == (4, 100, 2)
    assert (c.gini, c.top1_share, c.top10_share, c.hhi) == pytest.approx((0.25, 0.4, 1.0, 0.30))


def test_lorenz_curve_runs_from_origin_through_cumulative_shares(con):
    lz = m.lorenz(con, RUN, "COIN", points=4)
    assert lz["population"].to_list() == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert lz["wealth"].to_list() == pytest.approx([0, 0.1, 0.3, 0.6, 1])


def test_top_holders_exclude_house_accounts_and_empty_ones(con):
    top = m.top_holders(con, RUN, "COIN", 3)
    assert top["account"].to_list() == ["user:d", "user:c", "user:b"]
    assert top["share"].to_list() == pytest.approx([0.4, 0.3, 0.2])


def test_gini_over_time_rebuilds_balances_from_the_journal(con):
    rows = m.gini_over_time(con, RUN, "COIN", points=3).rows()
    # a/b hold 100/50, then 45/60, then 45/54 (escrow and the platform are not holders).
    assert rows == [(date(2026, 1, 1), 2, pytest.approx(1 / 6)), (date(2026, 1, 2), 2, pytest.approx(1 / 14)),
                    (date(2026, 1, 3), 2, pytest.approx(1 / 22))]


def test_revenue_daily_nets_refunds(con):
    assert m.revenue_daily(con, RUN).rows() == [(date(2026, 1, 1), 499, 0, 499), (date(2026, 1, 3), 999, 499, 500)]


def test_revenue_summary_conversion_and_arppu(con):
    r = m.revenue_summary(con, RUN)
    # one paying user (a) of five user accounts; net 1498 - 499 = 999 cents.
    assert r == m.RevenueSummary(gross=1498, refunds=499, net=999, paid_sessions=2, paying_users=1, users=5,
                                 conversion=0.2, arppu_cents=999, bonus_coins=26)


def test_revenue_by_package_counts_paid_checkouts_only(con):
    rows = m.revenue_by_package(con, RUN).rows()
    assert rows == [("small", 1, 999, 499, 500, 999, 25), ("starter", 1, 499, 0, 499, 499, 1)]


def test_candles_bucket_the_tape(con):
    rows = m.candles(con, RUN, "SHOP1", "1h").select("open", "high", "low", "close", "volume", "quote_volume",
                                                     "trades").rows()
    assert rows == [(100, 100, 100, 100, 2, 200, 1), (110, 110, 105, 105, 4, 425, 2)]
    assert m.candles(con, RUN, "SHOP1", "1d").height == 2


def test_market_summary_and_fees(con):
    assert m.market_summary(con, RUN).rows() == [("SHOP1", 3, 6, 625, 6, 105, 110, 100)]


def test_leaderboard_ranks_traders_by_quote_volume(con):
    rows = m.leaderboard(con, RUN).rows()
    assert rows == [("user:b", 2, 0, 5, 515, 2), ("user:c", 2, 3, 1, 425, 2), ("user:a", 2, 3, 0, 310, 2)]


def test_order_book_depth_accumulates_from_the_best_price(con):
    rows = m.order_book(con, RUN, "SHOP1").rows()
    assert rows == [("buy", 90, 5, 7), ("buy", 95, 2, 2), ("sell", 120, 4, 4), ("sell", 130, 1, 5)]


def test_halts_count_circuit_breaker_pauses(con):
    assert m.halts(con, RUN).rows() == [("SHOP1", "circuit_breaker", 2, 1), ("SHOP1", "price_band", 1, 0)]
    assert m.alerts(con, RUN)["action"].to_list() == ["resumed", "paused", "rejected"]


def test_daily_active_and_retention(con):
    assert m.daily_active(con, RUN).rows() == [(date(2026, 1, 1), 2, 2), (date(2026, 1, 2), 2, 0),
                                               (date(2026, 1, 3), 1, 0)]
    assert m.retention(con, RUN).select("offset", "active", "rate").rows() == [(0, 2, 1.0), (1, 2, 1.0), (2, 1, 0.5)]
    assert m.retention_summary(con, RUN, (1, 2, 7)) == {1: 1.0, 2: 0.5, 7: None}


def test_headlines_compare_the_latest_day_with_the_one_before(con):
    got = {h.name: (h.value, h.change) for h in m.headlines(con, RUN)}
    assert got == {"Supply": (110, 0), "Issued": (0, 0), "Burned": (0, -30), "Net revenue": (500, 500),
                   "Active users": (1, -1), "Trades": (2, 1)}


def test_simulated_supply_and_gini_match_the_simulators_own_figures(warehouse):
    con = connect(warehouse["root"])
    last = con.execute("SELECT circulating, gini FROM daily_metrics WHERE run_id = ? ORDER BY day DESC LIMIT 1",
                       [warehouse["run_id"]]).fetchall()[0]
    assert m.supply_daily(con, warehouse["run_id"], "COIN")["supply"][-1] == last[0]
    assert m.concentration(con, warehouse["run_id"]).gini == pytest.approx(last[1])
