"""The live market feed (Server-Sent Events) from a real `coinlab serve`: numbered
trades and book changes, a snapshot to start from, a resume from Last-Event-ID; on
SQLite with one worker and on PostgreSQL with two (relayed by the forwarder)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ledger.sql import make_engine
from service.database import upgrade
from service.keys import KeyStore
from tests.service.server import Server


def _keys(url: str) -> tuple[str, str]:
    upgrade(url)
    engine = make_engine(url)
    keys = KeyStore(engine)
    app, admin = keys.create("app")[1], keys.create("admin")[1]
    engine.dispose()
    return app, admin


def _events(lines: Iterator[str], n: int) -> list[dict]:
    """The next ``n`` events (comments skipped): id, event, data."""
    out: list[dict] = []
    event: dict = {}
    for line in lines:
        if line == "":
            if event:
                out.append(event)
                event = {}
                if len(out) == n:
                    return out
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            event[field] = json.loads(value) if field == "data" else value
    raise AssertionError(f"the stream ended after {out}")


def _world(url: str, app: str, admin: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    a = {"Authorization": f"Bearer {app}", "X-User-Id": "alice"}
    assert http.post("/api/brand-coins", headers=a, json={"symbol": "FEED", "name": "F", "initialPrice": 10}
                     ).status_code == 200
    assert http.post("/api/brand-coins/FEED/earn", headers=a, json={"usdCents": 1000}).status_code == 200
    assert http.post("/api/admin/grants", headers={"Authorization": f"Bearer {admin}"},
                     json={"userId": "bob", "amount": 1000}).status_code == 200
    return http


def _feed(url: str, workers: int) -> None:
    app, admin = _keys(url)
    with Server(url, workers=workers) as server:
        http = _world(server.url, app, admin)
        h = {"Authorization": f"Bearer {app}", "X-User-Id": "alice"}
        with http.stream("GET", "/api/market/FEED/stream", headers=h) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            (snap,) = _events(lines, 1)
            start = int(snap["id"])
            assert snap["event"] == "snapshot" and snap["data"]["asks"] == [] and snap["data"]["sequence"] == start
            assert http.post("/api/market/FEED/orders", headers=h,
                             json={"side": "sell", "quantity": 5, "price": 10}).status_code == 200
            assert http.post("/api/market/FEED/orders", headers={**h, "X-User-Id": "bob"},
                             json={"side": "buy", "quantity": 2, "price": 10}).status_code == 200
            rest, trade, fill = _events(lines, 3)
        assert [int(e["id"]) for e in (rest, trade, fill)] == [start + 1, start + 2, start + 3]
        assert rest["event"] == "book" and rest["data"]["changes"] == [
            {"side": "sell", "price": 10, "quantity": 5, "orders": 1}]
        assert trade["event"] == "trade" and (trade["data"]["trade"]["quantity"], trade["data"]["trade"]["buyerUserId"],
                                              trade["data"]["trade"]["sellerUserId"]) == (2, "bob", "alice")
        assert fill["event"] == "book" and fill["data"]["changes"] == [
            {"side": "sell", "price": 10, "quantity": 3, "orders": 1}]
        book = http.get("/api/market/FEED/book", headers=h).json()
        assert book["sequence"] == start + 3 and book["asks"] == [{"price": 10, "quantity": 3, "orders": 1}]

        # a client that reconnects after start + 1 gets what it missed, in order, and no snapshot
        with http.stream("GET", "/api/market/FEED/stream", headers={**h, "Last-Event-ID": str(start + 1)}) as again:
            missed = _events(again.iter_lines(), 2)
        assert [(e["event"], int(e["id"])) for e in missed] == [("trade", start + 2), ("book", start + 3)]
        # one that missed more than the server kept (or names a number it never sent) starts from a snapshot
        with http.stream("GET", "/api/market/FEED/stream", headers={**h, "Last-Event-ID": "999999"}) as lost:
            (resync,) = _events(lost.iter_lines(), 1)
        assert resync["event"] == "snapshot" and int(resync["id"]) == start + 3
        assert resync["data"]["asks"] == [{"price": 10, "quantity": 3, "orders": 1}]
        assert http.get("/api/market/NOPE/stream", headers=h).status_code == 404
        http.close()


def test_the_feed_numbers_trades_and_book_changes_on_sqlite_with_one_worker(sqlite_url):
    _feed(sqlite_url, 1)


@pytest.mark.postgres
def test_the_feed_is_relayed_to_the_workers_on_postgresql_with_two(pg_url):
    _feed(pg_url, 2)
