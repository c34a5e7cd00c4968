"""Authorization on every route: what must be refused is refused (401/403), logged,
and changes nothing."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from service.tables import http_idempotency, market_orders

# (method, path, json body, who may call it)
#   read: any credential, acting for a user      caller: any credential
#   write: app/admin/user token, acting for a user
#   server_user: app/admin acting for a user     server: app/admin     admin: admin only
ROUTES = [
    ("GET", "/api/coins/packages", None, "caller"),
    ("POST", "/api/coins/purchase/checkout", {"packageId": "small"}, "write"),
    ("GET", "/api/coins/balance", None, "read"),
    ("GET", "/api/coins/history", None, "read"),
    ("POST", "/api/coins/daily-login", None, "write"),
    ("POST", "/api/coins/earn", {"reward": "signup"}, "server_user"),
    ("POST", "/api/claims/c1/vote", None, "write"),
    ("POST", "/api/claims/c1/unlock-analysis", None, "write"),
    ("POST", "/api/transfers", {"toUserId": "carol", "amount": 5}, "write"),
    ("POST", "/api/pools", {"id": "p2", "title": "t", "outcomes": ["a", "b"]}, "server"),
    ("POST", "/api/pools/p1/stakes", {"outcome": "a", "amount": 5}, "write"),
    ("POST", "/api/pools/p1/resolve", {"outcome": "a"}, "server"),
    ("GET", "/api/pools", None, "caller"),
    ("GET", "/api/pools/stakes", None, "read"),
    ("GET", "/api/pools/p1", None, "caller"),
    ("POST", "/api/challenges", {"id": "ch1", "beltValue": 1000}, "write"),
    ("GET", "/api/challenges/ch0", None, "caller"),
    ("POST", "/api/challenges/ch0/resolve", {"winnerUserId": "alice", "loserUserId": "bob"}, "server"),
    ("POST", "/api/challenges/ch0/cancel", None, "server"),
    ("POST", "/api/tournaments", {"id": "t1", "title": "t", "entryFee": 10}, "write"),
    ("GET", "/api/tournaments/t0", None, "caller"),
    ("POST", "/api/tournaments/t0/entries", None, "write"),
    ("POST", "/api/tournaments/t0/payout", {"placements": ["alice"]}, "server"),
    ("POST", "/api/tournaments/t0/cancel", None, "server"),
    ("POST", "/api/brand-coins", {"symbol": "NEWC", "name": "n", "initialPrice": 5}, "write"),
    ("GET", "/api/brand-coins", None, "caller"),
    ("GET", "/api/brand-coins/HEATHER", None, "caller"),
    ("POST", "/api/brand-coins/HEATHER/earn", {"usdCents": 500}, "server_user"),
    ("POST", "/api/brand-coins/HEATHER/redeem", {"quantity": 1}, "write"),
    ("POST", "/api/market/HEATHER/orders", {"side": "buy", "quantity": 1, "price": 5}, "write"),
    ("GET", "/api/market/orders", None, "read"),
    ("DELETE", "/api/market/orders/{order}", None, "write"),
    ("GET", "/api/market/HEATHER/book", None, "caller"),
    ("GET", "/api/market/HEATHER/trades", None, "caller"),
    ("GET", "/api/market/HEATHER/candles", None, "caller"),
    ("GET", "/api/market/HEATHER/ticker", None, "caller"),
    ("GET", "/api/market/HEATHER/stream", None, "caller"),
    ("GET", "/api/portfolio", None, "read"),
    ("GET", "/api/leaderboards", None, "caller"),
    ("GET", "/api/admin/packages", None, "admin"),
    ("POST", "/api/admin/packages", {"id": "mega", "name": "M", "priceCents": 100}, "admin"),
    ("PATCH", "/api/admin/packages/small", {"name": "x"}, "admin"),
    ("DELETE", "/api/admin/packages/small", None, "admin"),
    ("POST", "/api/admin/grants", {"userId": "alice", "amount": 5}, "admin"),
    ("GET", "/api/admin/transactions", None, "admin"),
    ("GET", "/api/admin/metrics", None, "admin"),
]


class _Denials(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = json.loads(record.getMessage())
        if event.get("event") == "denied":
            self.events.append(event)


@pytest.fixture
def world(client, creds, state, fund):
    """alice has coins, a resting order and a stake; a coin and a pool exist."""
    fund("alice", 5000)
    client.post("/api/brand-coins", headers=creds.h(creds.alice), json={"symbol": "HEATHER", "name": "H", "initialPrice": 10})
    client.post("/api/pools", headers=creds.h(creds.app), json={"id": "p1", "title": "t", "outcomes": ["a", "b"]})
    assert client.post("/api/challenges", headers=creds.h(creds.alice), json={"id": "ch0", "beltValue": 1000}
                       ).status_code == 201
    assert client.post("/api/tournaments", headers=creds.h(creds.alice), json={"id": "t0", "title": "t", "entryFee": 10}
                       ).status_code == 201
    order = client.post("/api/market/HEATHER/orders", headers=creds.h(creds.alice),
                        json={"side": "buy", "quantity": 2, "price": 9}).json()
    return {"order": order["id"]}


def _snapshot(state):
    with state.engine.connect() as conn:
        orders = conn.execute(select(market_orders.c.id, market_orders.c.status)).all()
        idem = conn.execute(select(func.count()).select_from(http_idempotency)).scalar()
    return (sum(1 for _ in state.store.iter_journal()), sorted(state.store.stored_balances()), orders, idem,
            [(p.id, p.active, p.name) for p in state.economy.catalog.list(include_inactive=True)])


def _refusals(creds, revoked: str) -> dict[str, list[tuple[str, dict[str, str], int]]]:
    """Per category: (label, headers, expected status) of credentials that must be refused."""
    h = creds.h
    common = [("no credential", h(user="alice"), 401), ("unknown token", h("ck_x_y", "alice"), 401),
              ("revoked key", h(revoked, "alice"), 401)]
    other_user = ("user token for another user", h(creds.alice, "bob"), 403)
    read_writes = ("read key writing", h(creds.read, "alice"), 403)
    user_server = ("user token on a server route", h(creds.alice), 403)
    app_admin = ("app key on an admin route", h(creds.app, "alice"), 403)
    return {
        "caller": common,
        "read": [*common, other_user],
        "write": [*common, other_user, read_writes],
        "server_user": [*common, read_writes, user_server],
        "server": [*common, read_writes, user_server],
        "admin": [*common, read_writes, user_server, app_admin],
    }


@pytest.mark.parametrize("method,path,body,who", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_route_refuses_the_wrong_credentials_and_changes_nothing(client, creds, state, world,
                                                                       method, path, body, who):
    revoked_key, revoked = state.keys.create("admin")
    state.keys.revoke(revoked_key.id)
    path = path.format(**world)
    denials = _Denials()
    logging.getLogger("coinlab.service").addHandler(denials)
    try:
        before = _snapshot(state)
        cases = _refusals(creds, revoked)[who]
        for label, headers, status in cases:
            r = client.request(method, path, headers={**headers, "Idempotency-Key": "same"}, json=body)
            assert r.status_code == status, (label, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        assert _snapshot(state) == before
        assert len(denials.events) == len(cases)
    finally:
        logging.getLogger("coinlab.service").removeHandler(denials)


def test_user_token_cannot_cancel_another_users_order(client, creds, state, world):
    r = client.delete(f"/api/market/orders/{world['order']}", headers=creds.h(creds.bob))
    assert r.status_code == 403
    assert world["order"] in state.market.exchange.live


def test_app_key_needs_an_acting_user(client, creds):
    r = client.get("/api/coins/balance", headers=creds.h(creds.app))
    assert r.status_code == 400 and r.json()["code"] == "missing_user"


def test_credentials_are_accepted_in_x_api_key_too(client, creds):
    r = client.get("/api/coins/balance", headers={"X-API-Key": creds.alice})
    assert r.status_code == 200 and r.json()["userId"] == "alice"


def test_the_bearer_scheme_is_case_insensitive_and_another_scheme_is_no_credential(client, creds):
    assert client.get("/api/coins/balance", headers={"Authorization": f"bearer {creds.alice}"}).status_code == 200
    r = client.get("/api/coins/balance", headers={"Authorization": f"Basic {creds.alice}"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = client.get("/api/coins/balance", headers={"Authorization": "Bearer "})
    assert r.status_code == 401


def test_the_allowed_credentials_get_through(client, creds, world):
    assert client.get("/api/coins/balance", headers=creds.h(creds.read, "alice")).status_code == 200
    assert client.get("/api/admin/metrics", headers=creds.admin_h()).status_code == 200
    assert client.post("/api/coins/earn", headers=creds.app_as("dave"), json={"reward": "signup"}).status_code == 200
    assert client.post("/api/coins/daily-login", headers=creds.h(creds.alice, "alice")).status_code == 200


def test_healthz_needs_no_credential(client):
    assert client.get("/healthz").json()["database"] == "ok"


def test_the_matrix_covers_every_route(client):
    public = {("POST", "/api/webhooks/stripe"), ("GET", "/healthz")}
    spec = client.get("/openapi.json").json()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops} - public
    listed = {(m, p.replace("{order}", "{order_id}").replace("/c1/", "/{claim_id}/").replace("/p1/", "/{pool_id}/")
               .replace("/HEATHER", "/{symbol}").replace("/small", "/{package_id}").replace("/ch0", "/{challenge_id}")
               .replace("/t0", "/{tournament_id}").replace("/pools/p1", "/pools/{pool_id}")) for m, p, _, _ in ROUTES}
    assert served == listed
