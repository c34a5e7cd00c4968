"""Brand coins and the market over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ledger import user_account
from service.app import create_app
from service.state import ServiceState
from tests.service.conftest import settings_for


def _launch(client, creds, symbol="HEATHER", price=10):
    return client.post("/api/brand-coins", headers=creds.h(creds.alice),
                       json={"symbol": symbol, "name": "Heather's", "initialPrice": price})


def _sell_and_buy(client, creds, state, fund, qty=5, price=10):
    """alice (no vesting on the allocation she sells: she earns coins first) rests a
    sell; bob takes it."""
    _launch(client, creds)
    client.post("/api/brand-coins/HEATHER/earn", headers=creds.app_as("alice"), json={"usdCents": qty * 100})
    fund("bob", 1000)
    sell = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.alice),
                       json={"side": "sell", "quantity": qty, "price": price})
    buy = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                      json={"side": "buy", "quantity": qty, "price": price})
    return sell.json(), buy.json()


def test_launch_lists_and_gets_a_coin(client, creds):
    r = _launch(client, creds)
    assert r.status_code == 200 and r.json()["sellerUserId"] == "alice"
    listed = client.get("/api/brand-coins", headers=creds.h(creds.read)).json()["coins"]
    assert [c["symbol"] for c in listed] == ["HEATHER"]
    one = client.get("/api/brand-coins/HEATHER", headers=creds.h(creds.read)).json()
    assert (one["price"], one["initialPrice"]) == (10, 10)


def test_launching_a_taken_symbol_or_a_bad_one_is_refused(client, creds):
    _launch(client, creds)
    assert _launch(client, creds).json()["code"] == "coin_error"
    assert _launch(client, creds, symbol="c-1").status_code == 422
    assert _launch(client, creds, symbol="COIN").status_code == 400
    assert _launch(client, creds, symbol="coin").status_code == 400  # read as COIN


def test_unknown_coin_is_404_everywhere(client, creds):
    h = creds.h(creds.alice)
    for r in (client.get("/api/brand-coins/NOPE", headers=h), client.get("/api/market/NOPE/book", headers=h),
              client.get("/api/market/NOPE/trades", headers=h), client.get("/api/market/NOPE/candles", headers=h),
              client.post("/api/market/NOPE/orders", headers=h, json={"side": "buy", "quantity": 1, "price": 1}),
              client.post("/api/brand-coins/NOPE/redeem", headers=h, json={"quantity": 1})):
        assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_earn_and_redeem(client, creds, state):
    _launch(client, creds)
    e = client.post("/api/brand-coins/HEATHER/earn", headers=creds.app_as("carol"), json={"usdCents": 700})
    assert e.json()["quantity"] == 7
    r = client.post("/api/brand-coins/HEATHER/redeem", headers=creds.app_as("carol"), json={"quantity": 3})
    assert (r.json()["value"], r.json()["balance"]) == (30, 4)
    over = client.post("/api/brand-coins/HEATHER/redeem", headers=creds.app_as("carol"), json={"quantity": 30})
    assert over.status_code in (400, 409)
    assert state.ledger.balance(user_account("carol"), "HEATHER") == 4


def test_orders_cross_and_show_in_trades_book_candles_portfolio(client, creds, state, fund):
    sell, buy = _sell_and_buy(client, creds, state, fund)
    assert (sell["status"], buy["status"], buy["filled"]) == ("open", "filled", 5)
    h = creds.h(creds.bob)
    trades = client.get("/api/market/HEATHER/trades", headers=h).json()["trades"]
    assert [(t["price"], t["quantity"], t["buyerUserId"], t["sellerUserId"]) for t in trades] == [(10, 5, "bob", "alice")]
    book = client.get("/api/market/HEATHER/book", headers=h).json()
    assert book["bids"] == book["asks"] == [] and book["lastPrice"] == 10
    candles = client.get("/api/market/HEATHER/candles?interval=1m&limit=3", headers=h).json()["candles"]
    # the trade's minute is the last one, or the one before if a minute turned meanwhile
    assert candles[-1]["close"] == 10 and sum(c["volume"] for c in candles[-2:]) == 5
    pos = client.get("/api/portfolio", headers=h).json()["positions"]
    assert [(p["symbol"], p["quantity"], p["price"]) for p in pos] == [("HEATHER", 5, 10)]
    boards = client.get("/api/leaderboards", headers=h).json()
    assert boards["volume24h"][0]["key"] == "HEATHER"
    assert state.ledger.balance(user_account("bob"), "HEATHER") == 5


def test_a_resting_order_is_in_the_book_and_can_be_cancelled_by_its_owner_only(client, creds, state, fund):
    _launch(client, creds)
    fund("bob", 1000)
    o = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                    json={"side": "buy", "quantity": 3, "price": 9}).json()
    book = client.get("/api/market/HEATHER/book", headers=creds.h(creds.bob)).json()
    assert book["bids"] == [{"price": 9, "quantity": 3, "orders": 1}]
    assert state.ledger.held(user_account("bob")) > 0
    other = client.delete(f"/api/market/orders/{o['id']}", headers=creds.h(creds.alice))
    assert other.status_code == 403
    done = client.delete(f"/api/market/orders/{o['id']}", headers=creds.h(creds.bob))
    assert done.json()["status"] == "cancelled"
    assert state.ledger.held(user_account("bob")) == 0 and state.ledger.balance(user_account("bob")) == 1000
    assert client.delete(f"/api/market/orders/{o['id']}", headers=creds.h(creds.bob)).status_code == 404
    mine = client.get("/api/market/orders", headers=creds.h(creds.bob)).json()["orders"]
    assert [(x["id"], x["status"]) for x in mine] == [(o["id"], "cancelled")]


def test_an_order_without_funds_is_a_409_problem_with_required_and_balance(client, creds, state, fund):
    _launch(client, creds)
    fund("bob", 20)
    r = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                    json={"side": "buy", "quantity": 3, "price": 9})
    fee_bps = state.market.exchange.markets["HEATHER"].max_bps
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["reason"], body["asset"]) == ("insufficient_funds", "insufficient_funds", "COIN")
    assert (body["required"], body["balance"]) == (27 + 27 * fee_bps // 10_000, 20)
    assert isinstance(body["orderId"], int)


def test_a_sell_without_coins_names_the_coin_it_lacks(client, creds):
    _launch(client, creds)
    r = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                    json={"side": "sell", "quantity": 3, "price": 9})
    assert r.status_code == 409 and (r.json()["required"], r.json()["balance"], r.json()["asset"]) == (3, 0, "HEATHER")


def test_an_order_the_market_refuses_is_a_409_problem_with_its_reason(client, creds, fund):
    _launch(client, creds)
    fund("bob", 1000)
    r = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                    json={"side": "buy", "quantity": 3, "price": 9, "tif": "FOK"})
    assert r.status_code == 409 and (r.json()["code"], r.json()["reason"]) == ("order_rejected", "fok_unfillable")


def test_order_enumerations_are_accepted_in_any_case(client, creds, fund):
    _launch(client, creds)
    fund("bob", 1000)
    r = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.bob),
                    json={"side": "BUY", "quantity": 1, "price": 9, "tif": "gtc", "type": "Limit"})
    assert r.status_code == 200 and (r.json()["side"], r.json()["tif"], r.json()["kind"]) == ("buy", "GTC", "limit")
    assert r.json()["userId"] == "bob" and "account" not in r.json()


def test_malformed_orders_are_client_errors(client, creds):
    _launch(client, creds)
    h = creds.h(creds.bob)
    for body in ({"side": "buy", "quantity": 3}, {"side": "buy", "quantity": 3, "price": 9, "tif": "GTD"},
                 {"side": "hold", "quantity": 3, "price": 9}, {"side": "buy", "quantity": 3.5, "price": 9}):
        r = client.post("/api/market/HEATHER/orders", headers=h, json=body)
        assert 400 <= r.status_code < 500, body


def test_brand_coin_transfer_goes_through_the_market(client, creds, state):
    _launch(client, creds)
    client.post("/api/brand-coins/HEATHER/earn", headers=creds.app_as("carol"), json={"usdCents": 500})
    r = client.post("/api/transfers", headers=creds.app_as("carol"), json={"toUserId": "dave", "amount": 2, "asset": "HEATHER"})
    assert r.status_code == 200 and r.json()["balance"] == 3
    assert state.ledger.balance(user_account("dave"), "HEATHER") == 2


def test_with_several_workers_market_routes_answer_503(sqlite_url, creds):
    s = ServiceState(settings_for(sqlite_url, workers=2))
    with TestClient(create_app(s.settings, s)) as c:
        h = {"Authorization": f"Bearer {s.keys.create('app')[1]}", "X-User-Id": "alice"}
        r = c.get("/api/brand-coins", headers=h)
        assert r.status_code == 503 and r.json()["code"] == "market_single_worker"
        assert c.get("/api/coins/balance", headers=h).status_code == 200
    s.close()


def test_the_ticker_gives_the_last_24_hours(client, creds, state, fund):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from service.tables import market_trades

    _launch(client, creds, price=100)
    client.post("/api/brand-coins/HEATHER/earn", headers=creds.app_as("alice"), json={"usdCents": 5000})
    fund("bob", 10_000)
    a, b = creds.h(creds.alice), creds.h(creds.bob)
    for price, qty in ((95, 2), (100, 3), (102, 4)):  # inside the default price band
        assert client.post("/api/market/HEATHER/orders", headers=a,
                           json={"side": "sell", "quantity": qty, "price": price}).status_code == 200
        assert client.post("/api/market/HEATHER/orders", headers=b,
                           json={"side": "buy", "quantity": qty, "price": price}).json().get("status") == "filled", price
    first = min(t.id for t in state.market.trades("HEATHER"))
    with state.engine.begin() as conn:  # the first trade, at 95, happened two days ago: the window's reference
        conn.execute(update(market_trades).where(market_trades.c.id == first)
                     .values(time=datetime.now(UTC) - timedelta(days=2)))
    t = client.get("/api/market/HEATHER/ticker", headers=b).json()
    assert (t["last"], t["change"], t["changeBps"], t["high"], t["low"]) == (102, 7, 736, 102, 100)
    assert (t["volume"], t["quoteVolume"], t["trades"]) == (7, 708, 2)


def test_a_coin_that_never_traded_has_an_empty_ticker(client, creds):
    _launch(client, creds)
    t = client.get("/api/market/HEATHER/ticker", headers=creds.h(creds.bob)).json()
    assert (t["last"], t["change"], t["volume"], t["high"]) == (None, 0, 0, None)
