"""Several workers, one market: a worker without the market (Settings.market_socket)
hands the market's requests to the market process over its Unix socket. Here the
market process is the app under a real uvicorn on a socket in this process; the worker
is a TestClient app over the same database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from service.app import create_app
from service.forward import for_market
from service.state import ServiceState

from .conftest import settings_for


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("POST", "/api/market/ABC/orders", b"{}", True),
    ("DELETE", "/api/market/orders/7", b"", True),
    ("GET", "/api/brand-coins", b"", True),
    ("POST", "/api/brand-coins/ABC/redeem", b"{}", True),
    ("GET", "/api/portfolio", b"", True),
    ("GET", "/api/leaderboards", b"", True),
    ("POST", "/api/transfers", b'{"toUserId": "b", "amount": 1, "asset": "ABC"}', True),
    ("POST", "/api/transfers", b'{"toUserId": "b", "amount": 1}', False),  # COIN by default
    ("POST", "/api/transfers", b'{"toUserId": "b", "amount": 1, "asset": "COIN"}', False),
    ("POST", "/api/transfers", b'{"toUserId": "b", "amount": 1, "asset": 5}', False),  # the worker refuses it
    ("POST", "/api/transfers", b"{not json", False),
    ("POST", "/api/transfers", b"[1, 2]", False),
    ("POST", "/api/coins/daily-login", b"", False),
    ("GET", "/api/coins/balance", b"", False),
    ("GET", "/api/marketing", b"", False),
])
def test_which_requests_the_market_process_answers(method, path, body, expected):
    assert for_market(method, path, body) is expected


@pytest.fixture
def market_socket(sqlite_url, fake_stripe, tmp_path) -> Iterator[str]:
    path = str(tmp_path / "market.sock")
    state = ServiceState(settings_for(sqlite_url, fake_stripe))
    server = uvicorn.Server(uvicorn.Config(create_app(state.settings, state), uds=path, log_level="warning",
                                           timeout_keep_alive=3600))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the market process did not start"
        time.sleep(0.02)
    yield path
    server.should_exit = True
    thread.join(10)
    state.close()


@pytest.fixture
def worker(sqlite_url, fake_stripe, market_socket) -> Iterator[TestClient]:
    state = ServiceState(settings_for(sqlite_url, fake_stripe, workers=2, market_socket=market_socket))
    assert state.market is None
    with TestClient(create_app(state.settings, state)) as c:
        yield c
    state.close()


def _launch(worker: TestClient, creds) -> None:
    r = worker.post("/api/brand-coins", headers=creds.h(creds.app, "seller"),
                    json={"symbol": "FWD", "name": "Forwarded", "initialPrice": 10})
    assert r.status_code == 200, r.text
    for user in ("alice", "bob"):
        assert worker.post("/api/brand-coins/FWD/earn", headers=creds.h(creds.app, user),
                           json={"usdCents": 10_000}).status_code == 200
        assert worker.post("/api/admin/grants", headers=creds.h(creds.admin),
                           json={"userId": user, "amount": 1_000}).status_code == 200


def test_a_worker_without_the_market_forwards_its_routes(worker, creds):
    assert worker.get("/healthz").json()["market"] == "forwarded to the market process"
    _launch(worker, creds)
    sell = worker.post("/api/market/FWD/orders", headers=creds.h(creds.alice),
                       json={"side": "sell", "quantity": 5, "price": 10})
    assert sell.status_code == 200 and sell.json()["status"] == "open"
    assert int(sell.headers["content-length"]) == len(sell.content)
    buy = worker.post("/api/market/FWD/orders", headers=creds.h(creds.bob),
                      json={"side": "buy", "quantity": 2, "price": 10})
    assert buy.json()["status"] == "filled"
    book = worker.get("/api/market/FWD/book", headers=creds.h(creds.read)).json()
    assert book["asks"] == [{"price": 10, "quantity": 3, "orders": 1}]
    # the query string travels too: the market process validates it
    assert worker.get("/api/market/FWD/candles?interval=1m", headers=creds.h(creds.read)).status_code == 200
    bad = worker.get("/api/market/FWD/candles?interval=7m", headers=creds.h(creds.read))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    # a brand-coin transfer is the market's; a COIN transfer is answered by the worker itself
    moved = worker.post("/api/transfers", headers=creds.h(creds.bob), json={"toUserId": "alice", "amount": 1,
                                                                            "asset": "FWD"})
    assert moved.status_code == 200 and moved.json()["asset"] == "FWD"
    coins = worker.post("/api/transfers", headers=creds.h(creds.bob), json={"toUserId": "alice", "amount": 1})
    assert coins.status_code == 200 and coins.json()["txId"]


def test_idempotency_keys_of_forwarded_requests_are_the_market_process(worker, creds):
    _launch(worker, creds)
    h = {**creds.h(creds.alice), "Idempotency-Key": "order-1"}
    first = worker.post("/api/market/FWD/orders", headers=h, json={"side": "sell", "quantity": 1, "price": 12})
    again = worker.post("/api/market/FWD/orders", headers=h, json={"side": "sell", "quantity": 1, "price": 12})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = worker.post("/api/market/FWD/orders", headers=h, json={"side": "sell", "quantity": 2, "price": 12})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    book = worker.get("/api/market/FWD/book", headers=creds.h(creds.read)).json()
    assert book["asks"] == [{"price": 12, "quantity": 1, "orders": 1}]  # placed once


def test_denials_of_forwarded_requests_change_nothing(worker, creds):
    _launch(worker, creds)
    r = worker.post("/api/market/FWD/orders", headers=creds.h(creds.read, "alice"),
                    json={"side": "sell", "quantity": 1, "price": 10})
    assert r.status_code == 403
    assert worker.post("/api/market/FWD/orders", json={"side": "sell", "quantity": 1, "price": 10}).status_code == 401
    assert worker.get("/api/market/FWD/book", headers=creds.h(creds.read)).json()["asks"] == []


def test_an_unreachable_market_process_is_a_503_and_the_rest_still_works(sqlite_url, fake_stripe, tmp_path, creds):
    state = ServiceState(settings_for(sqlite_url, fake_stripe, workers=2, market_socket=str(tmp_path / "none.sock")))
    with TestClient(create_app(state.settings, state)) as c:
        r = c.post("/api/market/FWD/orders", headers=creds.h(creds.alice), json={"side": "sell", "quantity": 1,
                                                                                "price": 10})
        assert r.status_code == 503 and r.json()["code"] == "market_unavailable"
        assert c.post("/api/coins/daily-login", headers=creds.h(creds.alice)).status_code == 200
    state.close()


def test_a_market_process_that_does_not_answer_times_out(tmp_path):
    import asyncio

    from service.forward import UnixHttpPool, Unreachable

    async def scenario() -> None:
        path = str(tmp_path / "hung.sock")

        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)  # reads, never answers
            await asyncio.sleep(30)

        server = await asyncio.start_unix_server(hang, path)
        pool = UnixHttpPool(path, timeout=0.2)
        try:
            with pytest.raises(Unreachable, match="no answer within 0.2 s"):
                await pool.request("GET", b"/api/brand-coins", [], b"")
            assert pool._idle == []  # that connection is not reused
        finally:
            server.close()

    asyncio.run(scenario())
