"""Hostile input: control characters, deep JSON, huge bodies, wrong methods. Each is a
clear 4xx problem on both stores and changes nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from ledger import user_account
from service.app import create_app
from service.middleware import json_too_deep
from service.state import ServiceState
from tests.service.conftest import settings_for


@pytest.fixture(params=["sqlite", "postgres"])
def state(request, fake_stripe):
    s = ServiceState(settings_for(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"),
                                  fake_stripe))
    yield s
    s.close()


def _journal(state) -> int:
    return sum(1 for _ in state.store.iter_journal())


CONTROL = ["\x00", "\x01", "\x1f", "\x7f", "\n"]


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_control_character_in_a_path_id_is_422_and_changes_nothing(client, creds, state, fund, char):
    fund("alice", 100)
    before = _journal(state)
    h = creds.h(creds.alice)
    quoted = "".join(f"%{ord(c):02X}" for c in char)
    for method, path in (("POST", f"/api/claims/a{quoted}b/vote"), ("POST", f"/api/claims/{quoted}/unlock-analysis"),
                         ("GET", f"/api/pools/p{quoted}"), ("POST", f"/api/pools/p{quoted}/stakes"),
                         ("GET", f"/api/challenges/c{quoted}"), ("POST", f"/api/tournaments/t{quoted}/entries"),
                         ("GET", f"/api/brand-coins/H{quoted}"), ("PATCH", f"/api/admin/packages/s{quoted}")):
        body = {"outcome": "a", "amount": 1} if path.endswith("stakes") else {"name": "x"} if method == "PATCH" else None
        r = client.request(method, path, headers=creds.admin_h() if method == "PATCH" else h, json=body)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", (path, r.status_code, r.text)
    assert _journal(state) == before


@pytest.mark.parametrize("char", CONTROL, ids=repr)
def test_a_control_character_in_body_text_is_422_and_changes_nothing(client, creds, state, fund, char):
    fund("alice", 100)
    before = _journal(state)
    h, app, admin = creds.h(creds.alice), creds.h(creds.app), creds.admin_h()
    for path, headers, body in (
            ("/api/transfers", h, {"toUserId": "bob", "amount": 1, "note": f"hi{char}"}),
            ("/api/pools", app, {"id": "p9", "title": f"t{char}", "outcomes": ["a", "b"]}),
            ("/api/pools", app, {"id": "p9", "title": "t", "outcomes": [f"a{char}", "b"]}),
            ("/api/admin/packages", admin, {"id": "mega", "name": f"M{char}", "priceCents": 100}),
            ("/api/admin/grants", admin, {"userId": "alice", "amount": 5, "reason": f"r{char}"}),
            ("/api/brand-coins", h, {"symbol": "NEWC", "name": f"n{char}", "initialPrice": 5}),
            ("/api/tournaments", h, {"id": "t9", "title": f"t{char}", "entryFee": 1}),
            ("/api/coins/purchase/checkout", h, {"packageId": "small", "promoCode": f"X{char}"})):
        r = client.post(path, headers=headers, json=body)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", (path, r.status_code, r.text)
    r = client.get("/api/admin/transactions", headers=admin, params={"user": "a\x00b"})
    assert r.status_code == 422
    assert _journal(state) == before
    assert state.economy.pools.pools() == []


def _deep(depth: int) -> bytes:
    return b'{"toUserId": "bob", "amount": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"


def test_json_nested_too_deep_is_400_on_every_path_before_anything_else(client, creds, state, fund):
    fund("alice", 100)
    before = _journal(state)
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        concrete = path.replace("{", "").replace("}", "")  # any id: the body is refused first
        for method in ops:
            for headers in ({}, creds.h(creds.alice, key="k-deep")):  # without a credential too
                r = client.request(method.upper(), concrete, content=_deep(5000),
                                   headers={**headers, "content-type": "application/json"})
                assert r.status_code == 400 and r.json()["code"] == "json_too_deep", (method, path, r.text)
    assert _journal(state) == before


def test_json_within_the_depth_limit_is_read_as_usual(client, creds, fund):
    fund("alice", 100)
    body = json.dumps({"toUserId": "bob", "amount": 1, "note": "[" * 100 + "{" * 100}).encode()  # brackets in a string
    r = client.post("/api/transfers", headers={**creds.h(creds.alice), "content-type": "application/json"},
                    content=body)
    assert r.status_code == 200


def test_the_depth_check_counts_nesting_not_brackets():
    assert not json_too_deep(b"[" + b"[1]," * 1000 + b"[]]")
    assert not json_too_deep(b"[" * 32 + b"]" * 32)
    assert json_too_deep(b"[" * 33 + b"]" * 33)
    assert json_too_deep(b'{"a":' * 40 + b"1" + b"}" * 40)
    assert not json_too_deep(b'["' + b"[" * 1000 + b'"]')


def _asgi(app, method: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, dict, bool]:
    """Call the ASGI app directly; returns (status, body, whether the body was read)."""
    read = False
    sent: list[dict] = []
    pending = list(chunks)

    async def receive():
        nonlocal read
        read = True
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": "/api/transfers", "raw_path": b"/api/transfers", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), read


def test_a_body_over_the_limit_is_413_from_its_length_before_it_is_read_or_anyone_is_asked(state):
    app = create_app(state.settings, state)
    claims = []
    state.idempotency.claim = lambda *a, **k: claims.append(a)  # type: ignore[method-assign]
    status, body, read = _asgi(app, "POST", [(b"content-length", str(2 << 20).encode()),
                                            (b"content-type", b"application/json"), (b"idempotency-key", b"k1")],
                               [b"x" * 10])
    assert (status, body["code"], body["limit"]) == (413, "payload_too_large", 1 << 20)
    assert not read and not claims  # no byte read, no credential checked (none was sent), no key claimed


def test_a_body_without_a_length_is_cut_off_once_it_passes_the_limit(sqlite_url, fake_stripe):
    state = ServiceState(settings_for(sqlite_url, fake_stripe, max_body_bytes=100))
    try:
        status, body, _ = _asgi(create_app(state.settings, state), "POST", [(b"transfer-encoding", b"chunked")],
                                [b"{" + b" " * 60, b" " * 60 + b"}"])
        assert (status, body["code"], body["limit"]) == (413, "payload_too_large", 100)
    finally:
        state.close()


def test_the_body_limit_is_a_setting(sqlite_url, fake_stripe, creds_for=None):
    state = ServiceState(settings_for(sqlite_url, fake_stripe, max_body_bytes=200))
    try:
        token = state.keys.create("user", user_id="alice")[1]
        state.ledger.mint(user_account("alice"), 10)
        with TestClient(create_app(state.settings, state)) as c:
            h = {"Authorization": f"Bearer {token}"}
            ok = c.post("/api/transfers", headers=h, json={"toUserId": "bob", "amount": 1, "note": "n" * 100})
            big = c.post("/api/transfers", headers=h, json={"toUserId": "bob", "amount": 1, "note": "n" * 200})
        assert ok.status_code == 200 and big.status_code == 413
        assert state.ledger.balance(user_account("alice")) == 9
    finally:
        state.close()


def test_a_wrong_method_is_405_naming_every_allowed_method(client, creds):
    r = client.put("/api/admin/packages/small", headers=creds.admin_h(), json={})
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PATCH"
    assert r.headers["content-type"] == "application/problem+json"
    r = client.delete("/api/pools", headers=creds.h(creds.app))
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
