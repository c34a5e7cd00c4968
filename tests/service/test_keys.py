"""API keys: stored hashed, verified, revoked; `coinlab keys` and `coinlab serve --help`."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from coinlab_cli.main import app
from service.keys import KeyStore
from service.settings import Settings
from service.tables import api_keys

runner = CliRunner()


def test_only_the_sha256_of_the_secret_is_stored(state):
    key, token = state.keys.create("app")
    with state.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == key.id)).one()
    assert row.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(tuple(row))


def test_verify_finds_live_keys_only(state):
    key, token = state.keys.create("read")
    assert state.keys.verify(token) == key
    assert state.keys.verify(token + "x") is None
    state.keys.revoke(key.id)
    assert state.keys.verify(token) is None


def test_user_tokens_need_a_user_and_other_scopes_refuse_one(state):
    for scope, user in (("user", None), ("app", "alice"), ("root", None), ("user", "not ok")):
        with pytest.raises(ValueError):
            state.keys.create(scope, user_id=user)


def test_cli_creates_a_key_that_verifies(sqlite_url):
    r = runner.invoke(app, ["keys", "create", "--scope", "admin", "--db", sqlite_url])
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    from ledger.sql import make_engine

    assert KeyStore(make_engine(sqlite_url)).verify(token).scope == "admin"
    listed = runner.invoke(app, ["keys", "list", "--db", sqlite_url])
    assert "admin" in listed.output


def test_cli_refuses_a_bad_scope(sqlite_url):
    r = runner.invoke(app, ["keys", "create", "--scope", "root", "--db", sqlite_url])
    assert r.exit_code == 2


def test_cli_revokes(sqlite_url):
    from ledger.sql import make_engine

    key, token = KeyStore(make_engine(sqlite_url)).create("app")
    assert runner.invoke(app, ["keys", "revoke", key.id, "--db", sqlite_url]).exit_code == 0
    assert KeyStore(make_engine(sqlite_url)).verify(token) is None
    assert runner.invoke(app, ["keys", "revoke", key.id, "--db", sqlite_url]).exit_code == 1


def test_serve_offers_db_and_workers():
    r = runner.invoke(app, ["serve", "--help"])
    assert "--db" in r.output and "--workers" in r.output


def test_serve_freezes_the_workers_startup_objects(monkeypatch, sqlite_url):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.update(os.environ))
    for name in ("COINLAB_DB", "COINLAB_WORKERS", "COINLAB_MIGRATE", "COINLAB_LOG_REQUESTS", "COINLAB_FREEZE_GC"):
        monkeypatch.setenv(name, "")  # serve sets them: put them back afterwards
    assert runner.invoke(app, ["serve", "--db", sqlite_url]).exit_code == 0
    assert seen["COINLAB_FREEZE_GC"] == "1" and Settings().freeze_gc
