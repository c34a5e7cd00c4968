"""The production export: prod rows in the warehouse layout, incremental, no row twice,
consistent while a writer commits."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from dashboards import export as ex
from dashboards import metrics as m
from dashboards.warehouse import PROD, connect
from ledger import Ledger
from ledger.sql import SqlStore


@pytest.fixture
def ledger(sqlite_url):
    led = Ledger(SqlStore(sqlite_url))
    for i in range(5):
        led.mint(f"user:u{i}", 100 + i, key=f"g{i}")
    return led


def _ids(root: Path) -> list[int]:
    con = connect(root)
    return [r[0] for r in con.execute("SELECT id FROM entries WHERE run_id = 'prod' ORDER BY id").fetchall()]


def _journal_ids(led: Ledger) -> list[int]:
    return [e.id for e in led.store.iter_journal()]


def test_export_writes_the_journal_as_prod_rows(ledger, sqlite_url, tmp_path):
    ex.export(sqlite_url, tmp_path)
    tbl = pq.read_table(next((tmp_path / "entries" / "run_id=prod").glob("*.parquet")))
    assert set(tbl.column("source").to_pylist()) == {"prod"} and set(tbl.column("run_id").to_pylist()) == {"prod"}
    assert _ids(tmp_path) == _journal_ids(ledger)
    runs = pq.read_table(next((tmp_path / "runs" / "run_id=prod").glob("*.parquet"))).to_pylist()
    assert [(r["scenario"], r["kind"]) for r in runs] == [("production", "production")]


def test_a_second_export_appends_only_the_new_rows(ledger, sqlite_url, tmp_path):
    first = ex.export(sqlite_url, tmp_path)
    ledger.transfer("user:u0", "user:u1", 7, "COIN", "TRANSFER")
    second = ex.export(sqlite_url, tmp_path)
    parts = sorted((tmp_path / "entries" / "run_id=prod").glob("*.parquet"))
    assert (first.rows["entries"], second.rows["entries"], len(parts)) == (5, 1, 2)
    assert _ids(tmp_path) == _journal_ids(ledger)


def test_an_export_with_nothing_new_adds_no_part(ledger, sqlite_url, tmp_path):
    ex.export(sqlite_url, tmp_path)
    again = ex.export(sqlite_url, tmp_path)
    assert again.rows["entries"] == 0
    assert len(list((tmp_path / "entries" / "run_id=prod").glob("*.parquet"))) == 1


def test_balances_in_the_warehouse_follow_the_ledger(ledger, sqlite_url, tmp_path):
    ex.export(sqlite_url, tmp_path)
    ledger.transfer("user:u0", "user:u1", 7, "COIN", "TRANSFER")
    ex.export(sqlite_url, tmp_path)
    got = dict(connect(tmp_path).execute("SELECT account, balance FROM accounts WHERE asset = 'COIN' "
                                         "AND kind = 'user'").fetchall())
    assert got == {f"user:u{i}": ledger.balance(f"user:u{i}") for i in range(5)}


def test_a_part_left_by_a_crashed_export_is_removed_not_counted_twice(ledger, sqlite_url, tmp_path):
    ex.export(sqlite_url, tmp_path)
    part = next((tmp_path / "entries" / "run_id=prod").glob("*.parquet"))
    orphan = part.with_name("part-999999.parquet")
    orphan.write_bytes(part.read_bytes())  # written, but the state never listed it
    ledger.transfer("user:u0", "user:u1", 7, "COIN", "TRANSFER")
    ex.export(sqlite_url, tmp_path)
    assert not orphan.exists()
    assert _ids(tmp_path) == _journal_ids(ledger)


def test_ids_skipped_below_the_watermark_are_looked_for_again_until_they_expire():
    mark = ex._advance({"watermark": 2, "gaps": []}, [3, 6], now=100.0)
    assert mark == {"watermark": 6, "gaps": [[4, 100.0], [5, 100.0]]}
    mark = ex._advance(mark, [4], now=200.0)  # 4 committed late: found; 5 still pending
    assert mark == {"watermark": 6, "gaps": [[5, 100.0]]}
    assert ex._advance(mark, [], now=100.0 + ex.GAP_TTL) == {"watermark": 6, "gaps": []}


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_exports_racing_writers_end_with_every_row_exactly_once(db, request, tmp_path):
    # Two writers on PostgreSQL commit out of id order: the gaps must be picked up later.
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    ledger = Ledger(SqlStore(url))
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(400):
                if stop.is_set():
                    break
                ledger.mint("user:u2", 1)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    writers = [threading.Thread(target=write) for _ in range(2 if db == "postgres" else 1)]
    for w in writers:
        w.start()
    try:
        for _ in range(5):
            ex.export(url, tmp_path, warm=False)
    finally:
        stop.set()
        for w in writers:
            w.join()
    ex.export(url, tmp_path, warm=False)
    assert not errors
    assert _ids(tmp_path) == _journal_ids(ledger)


def test_the_production_export_has_purchases_refunds_and_trades(warehouse):
    con = connect(warehouse["root"])
    r = m.revenue_summary(con, PROD)
    assert (r.gross, r.refunds, r.paid_sessions) == (999 + 499 + 1999, 499, 3)
    assert m.market_summary(con, PROD)["trades"].to_list() == [2]
    assert m.order_book(con, PROD, "SHOPX").height >= 1
    assert con.execute("SELECT count(*) FROM candles WHERE run_id = 'prod'").fetchall()[0][0] == 2


def test_cli_export_reports_and_writes(ledger, sqlite_url, tmp_path):
    out = CliRunner().invoke(app, ["export", "--db", sqlite_url, "--to", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "exported" in out.output and _ids(tmp_path) == _journal_ids(ledger)
