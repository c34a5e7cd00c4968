"""Idempotency-Key on POST, and one JSON log line per request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from ledger import user_account
from service.middleware import idempotency_owner
from service.state import ServiceState
from service.tables import http_idempotency
from tests.service.conftest import settings_for


@pytest.fixture(params=["sqlite", "postgres"])
def state(request, fake_stripe):
    """The service on both databases: on PostgreSQL, Idempotency-Key claims and stored
    responses are committed in groups (service.idempotency)."""
    s = ServiceState(settings_for(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"),
                                  fake_stripe))
    yield s
    s.close()


def _send(client, creds, key, amount=3, token=None):
    return client.post("/api/transfers", headers=creds.h(token or creds.alice, key=key),
                       json={"toUserId": "bob", "amount": amount})


def test_a_replay_returns_the_first_response_and_moves_nothing_more(client, creds, state, fund):
    fund("alice", 10)
    first, again = _send(client, creds, "k1"), _send(client, creds, "k1")
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert state.ledger.balance(user_account("alice")) == 7


def test_the_same_key_with_another_body_is_409(client, creds, state, fund):
    fund("alice", 10)
    _send(client, creds, "k1")
    r = _send(client, creds, "k1", amount=4)
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    assert state.ledger.balance(user_account("alice")) == 7


def test_keys_are_scoped_to_the_caller(client, creds, fund):
    fund("alice", 10)
    fund("bob", 10)
    _send(client, creds, "k1")
    r = client.post("/api/transfers", headers=creds.h(creds.bob, key="k1"), json={"toUserId": "alice", "amount": 3})
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers


def test_a_client_error_is_replayed_too(client, creds):
    first, again = _send(client, creds, "k1"), _send(client, creds, "k1")
    assert first.status_code == again.status_code == 409 and again.headers["idempotent-replayed"] == "true"


def test_a_denied_request_is_not_remembered(client, creds, fund):
    fund("alice", 10)
    denied = client.post("/api/transfers", headers={"Idempotency-Key": "k1", "Authorization": "Bearer nope"},
                         json={"toUserId": "bob", "amount": 3})
    assert denied.status_code == 401
    ok = client.post("/api/transfers", headers={"Idempotency-Key": "k1", "Authorization": "Bearer nope"},
                     json={"toUserId": "bob", "amount": 3})
    assert "idempotent-replayed" not in ok.headers


def test_a_key_still_running_elsewhere_is_409_in_progress(client, creds, state):
    owner = idempotency_owner(f"Bearer {creds.alice}", None)
    with state.engine.begin() as conn:
        conn.execute(insert(http_idempotency).values(owner=owner, key="k1", fingerprint="x" * 64,
                                                     created_at=datetime.now(UTC)))
    r = client.post("/api/coins/daily-login", headers=creds.h(creds.alice, key="k1"))
    assert r.status_code == 409


def test_a_stale_claim_from_a_dead_process_is_run_again_but_ledger_writes_replay(client, creds, state, fund):
    fund("alice", 10)
    first = _send(client, creds, "k1")
    owner = idempotency_owner(f"Bearer {creds.alice}", None)
    # what a SIGKILL after the ledger commit but before the response was stored leaves behind
    with state.engine.begin() as conn:
        conn.execute(http_idempotency.update().where(http_idempotency.c.owner == owner)
                     .values(status=None, body=None, created_at=datetime.now(UTC) - timedelta(minutes=5)))
    again = _send(client, creds, "k1")
    assert again.status_code == 200 and again.json()["txId"] == first.json()["txId"]
    assert state.ledger.balance(user_account("alice")) == 7


def test_an_overlong_key_is_a_validation_error(client, creds):
    r = _send(client, creds, "k" * 201)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


def test_every_request_logs_one_json_line(sqlite_url):
    from fastapi.testclient import TestClient

    from service.app import create_app

    s = ServiceState(settings_for(sqlite_url, log_requests=True))
    token = s.keys.create("user", user_id="zed")[1]
    collect = _Collect()
    with TestClient(create_app(s.settings, s)) as c:
        logging.getLogger("coinlab.access").addHandler(collect)
        c.get("/api/coins/balance", headers={"Authorization": f"Bearer {token}"})
        logging.getLogger("coinlab.access").removeHandler(collect)
    lines = collect.lines
    assert [(x["method"], x["path"], x["status"], x["user"]) for x in lines] == [("GET", "/api/coins/balance", 200, "zed")]
    s.close()


def test_the_buffered_log_writes_whole_lines_at_most_pipe_buf_at_a_time(monkeypatch, tmp_path):
    # Several workers share one stdout pipe: a write of whole lines of at most PIPE_BUF
    # bytes is atomic there, so their lines never mix mid-line.
    import os
    import select
    import sys

    from service import app as app_module

    monkeypatch.setattr(sys, "stdout", open(tmp_path / "out", "w"))  # noqa: SIM115
    writes: list[bytes] = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(bytes(data)) or real_write(fd, data))
    handler = app_module._BufferedLines()
    handler.setFormatter(logging.Formatter("%(message)s"))
    lines = ["x" * (i % 300) + f"#{i}" for i in range(500)]
    for line in lines:
        handler.handle(logging.makeLogRecord({"msg": line}))
    handler.flush()
    assert all(len(w) <= select.PIPE_BUF and w.endswith(b"\n") for w in writes)
    assert b"".join(writes).decode().splitlines() == lines
    assert len(writes) < len(lines) / 10  # gathered, not a write per line
    assert (tmp_path / "out").read_text().splitlines() == lines  # where stdout goes
