"""`coinlab serve` for real: uvicorn on PostgreSQL under load, and a SIGKILL mid-load.
After a restart `coinlab check` is clean, every write the client saw acknowledged is in
the journal, and retrying the unacknowledged ones with their Idempotency-Key applies
each at most once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from coinlab_cli.main import app as cli
from ledger.sql import make_engine
from ledger.sql.schema import entries, transactions
from service.keys import KeyStore
from tests.service.server import Server, run_load

pytestmark = pytest.mark.postgres
runner = CliRunner()
USERS = 8


def _setup(url: str) -> tuple[str, str]:
    """An app key and an admin key; every user funded with 10,000 COIN by an admin grant."""
    engine = make_engine(url)
    keys = KeyStore(engine)
    app_key, admin_key = keys.create("app")[1], keys.create("admin")[1]
    engine.dispose()
    return app_key, admin_key


def _fund(server: Server, admin_key: str) -> None:
    import httpx

    for u in range(USERS):
        r = httpx.post(f"{server.url}/api/admin/grants", headers={"Authorization": f"Bearer {admin_key}"},
                       json={"userId": f"u{u}", "amount": 10_000}, timeout=30)
        assert r.status_code == 200


def _mixed(app_key: str, with_orders: bool):
    def make(c: int, i: int):
        user = f"u{c % USERS}"
        h = {"Authorization": f"Bearer {app_key}", "X-User-Id": user, "Idempotency-Key": f"c{c}-{i}"}
        kind = i % (4 if with_orders else 3)
        if kind == 0:
            return "POST", "/api/transfers", h, {"toUserId": f"u{(c + 1) % USERS}", "amount": 1 + i % 3}
        if kind == 1:
            return "POST", f"/api/claims/claim{c}-{i}/vote", h, None
        if kind == 2:
            return "POST", "/api/coins/daily-login", {**h, "X-User-Id": f"login{c}-{i}"}, None
        side, price = ("buy", 9) if (c + i) % 2 else ("sell", 9)
        return "POST", "/api/market/BENCH/orders", h, {"side": side, "quantity": 1, "price": price}

    return make


def _acked_tx_ids(records) -> set[str]:
    ids = set()
    for r in records:
        if r["status"] == 200 and r["json"]:
            tx = r["json"].get("txId")
            if tx:
                ids.add(tx)
    return ids


def _acked_orders(records) -> set[int]:
    return {r["json"]["id"] for r in records if r["status"] == 200 and "/orders" in r["path"]}


def _acked_logins(records) -> set[str]:
    return {"user:" + r["headers"]["X-User-Id"] for r in records
            if r["status"] == 200 and r["path"].endswith("daily-login")}


def _stored_orders(url: str) -> set[int]:
    from service.tables import market_orders

    engine = make_engine(url)
    with engine.connect() as conn:
        ids = set(conn.execute(select(market_orders.c.id)).scalars())
    engine.dispose()
    return ids


def _paid_logins(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        users = set(conn.execute(select(entries.c.to_account).where(entries.c.entry_type == "DAILY_LOGIN")).scalars())
    engine.dispose()
    return users


def _check_clean(url: str) -> None:
    r = runner.invoke(cli, ["check", "--db", url])
    assert r.exit_code == 0, r.output


def _journal_tx_ids(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = set(conn.execute(select(transactions.c.id)).scalars())
    engine.dispose()
    return ids


def _launch_bench(server: Server, app_key: str) -> None:
    """The brand coin BENCH, and some of it for every user to sell."""
    import httpx

    r = httpx.post(f"{server.url}/api/brand-coins", headers={"Authorization": f"Bearer {app_key}", "X-User-Id": "u0"},
                   json={"symbol": "BENCH", "name": "Bench", "initialPrice": 10}, timeout=30)
    assert r.status_code == 200, r.text
    for u in range(USERS):
        r = httpx.post(f"{server.url}/api/brand-coins/BENCH/earn", timeout=30, json={"usdCents": 10_000},
                       headers={"Authorization": f"Bearer {app_key}", "X-User-Id": f"u{u}"})
        assert r.status_code == 200, r.text


def test_load_on_postgres_with_two_workers_acknowledges_only_durable_writes(pg_url, tmp_path):
    app_key, admin_key = _setup(pg_url)
    with Server(pg_url, workers=2, log=tmp_path / "serve.log") as server:
        _fund(server, admin_key)
        _launch_bench(server, app_key)  # the market process owns the books; both workers forward to it
        records = run_load(server.url, _mixed(app_key, with_orders=True), clients=8, per_client=40)
    assert records and all(r["status"] is not None and r["status"] < 500 for r in records)
    assert sum(r["status"] == 200 for r in records) >= len(records) * 0.9
    assert _acked_orders(records) and _acked_orders(records) <= _stored_orders(pg_url)
    _check_clean(pg_url)  # includes: every open order's hold is there, and only those
    assert _acked_tx_ids(records) <= _journal_tx_ids(pg_url)
    log = (tmp_path / "serve.log").read_text().splitlines()
    # COIN transfers are answered by the worker that got them (one log line each)...
    assert sum('"path": "/api/transfers"' in line for line in log) == sum(r["path"] == "/api/transfers" for r in records)
    # ...an order by a worker, forwarding it, and by the market process
    orders = [line for line in log if '"path": "/api/market/BENCH/orders"' in line]
    assert sum('"forwarded": true' in line for line in orders) * 2 == len(orders)


def test_the_request_log_is_written_within_seconds_and_complete_at_shutdown(pg_url, tmp_path):
    import time

    import httpx

    app_key, _ = _setup(pg_url)
    log = tmp_path / "serve.log"
    balance = '"path": "/api/coins/balance"'
    h = {"Authorization": f"Bearer {app_key}", "X-User-Id": "u0"}
    with Server(pg_url, workers=1, log=log) as server:
        assert httpx.get(f"{server.url}/api/coins/balance", headers=h, timeout=30).status_code == 200
        deadline = time.monotonic() + 5  # buffered, flushed every second: there well before 5 s
        while balance not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert balance in log.read_text()
        for _ in range(50):
            httpx.get(f"{server.url}/api/coins/balance", headers=h, timeout=30)
    assert log.read_text().count(balance) == 51  # the rest written at shutdown (SIGTERM)


def _market_pid(server: Server) -> int:
    """The market process `coinlab serve --workers N` started (its child with --uds)."""
    import os

    assert server.proc is not None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")  # noqa: SIM115
        except OSError:
            continue
        if int(stat[1]) == server.proc.pid and b"--uds" in cmdline:
            return int(pid)
    raise AssertionError("no market process")


def test_a_killed_market_process_is_restarted_with_its_books(pg_url, tmp_path):
    import os
    import signal
    import time

    import httpx

    app_key, admin_key = _setup(pg_url)
    with Server(pg_url, workers=2, log=tmp_path / "serve.log") as server:
        _fund(server, admin_key)
        _launch_bench(server, app_key)
        h = {"Authorization": f"Bearer {app_key}", "X-User-Id": "u1"}
        resting = httpx.post(f"{server.url}/api/market/BENCH/orders", headers=h, timeout=30,
                             json={"side": "sell", "quantity": 3, "price": 10})
        assert resting.status_code == 200 and resting.json()["status"] == "open"
        first = _market_pid(server)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # 503 market_unavailable until the new process answers
            r = httpx.get(f"{server.url}/api/market/BENCH/book", headers=h, timeout=30)
            if r.status_code == 200:
                break
            assert r.status_code == 503 and r.json()["code"] == "market_unavailable"
            assert time.monotonic() < deadline, "the market process was not restarted"
            time.sleep(0.2)
        assert _market_pid(server) != first
        assert r.json()["asks"] == [{"price": 10, "quantity": 3, "orders": 1}]  # rebuilt from the database
        buy = httpx.post(f"{server.url}/api/market/BENCH/orders", timeout=30,
                         headers={**h, "X-User-Id": "u2"}, json={"side": "buy", "quantity": 3, "price": 10})
        assert buy.status_code == 200 and buy.json()["status"] == "filled", buy.text
        assert httpx.get(f"{server.url}/healthz", timeout=30).json()["market"] == "forwarded to the market process"
    _check_clean(pg_url)


@pytest.mark.parametrize("workers", [1, 2])  # 2: the workers and the market process die together
def test_sigkill_under_load_loses_no_acknowledged_write(pg_url, tmp_path, workers):
    import httpx

    app_key, admin_key = _setup(pg_url)
    server = Server(pg_url, workers=workers, log=tmp_path / "serve.log").start()
    try:
        _fund(server, admin_key)
        _launch_bench(server, app_key)
        stop = threading.Event()
        killer = threading.Timer(1.5, lambda: (server.kill(), stop.set()))
        killer.start()
        records = run_load(server.url, _mixed(app_key, with_orders=True), clients=6, stop=stop)
        killer.join()
    finally:
        server.stop()
    acked = _acked_tx_ids(records)
    lost = [r for r in records if r["status"] is None]
    assert acked and lost and _acked_orders(records) and _acked_logins(records), "the kill should land mid-load"
    # restart: the market reconciles, the journal proves itself
    with Server(pg_url, workers=1, log=tmp_path / "serve.log") as again:
        _check_clean(pg_url)
        assert acked <= _journal_tx_ids(pg_url)
        assert _acked_orders(records) <= _stored_orders(pg_url)
        assert _acked_logins(records) <= _paid_logins(pg_url)
        # the client retries what it never heard back about, with the same keys
        engine = make_engine(pg_url)
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(entries)).scalar()
        retried = [httpx.request(r["method"], f"{again.url}{r['path']}", headers=r["headers"], json=r["body"], timeout=30)
                   for r in lost]
        assert all(x.status_code < 500 for x in retried), [x.text for x in retried if x.status_code >= 500]
        # every key maps to one ledger transaction at most, however many times it was sent
        with engine.connect() as conn:
            dupes = conn.execute(text(
                "SELECT idempotency_key, count(DISTINCT tx_id) FROM entries WHERE idempotency_key LIKE 'http:%' "
                "GROUP BY idempotency_key HAVING count(DISTINCT tx_id) > 1")).all()
            after = conn.execute(select(func.count()).select_from(entries)).scalar()
        engine.dispose()
        assert dupes == [] and after >= before
    _check_clean(pg_url)
