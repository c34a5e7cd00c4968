"""The rollup cache serves a stored result until the run's files change."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboards import metrics as m
from dashboards.warehouse import connect
from sim.warehouse import rows_to_columns, write_table

T = datetime(2026, 1, 1, tzinfo=UTC)


def _mint(root, amounts):
    rows = [{"id": i + 1, "tx_id": str(i + 1), "time": T, "entry_type": "ADMIN_GRANT", "asset": "COIN", "amount": a,
             "from_account": "system:mint", "to_account": "user:a", "from_before": 0, "from_after": -a,
             "to_before": 0, "to_after": a} for i, a in enumerate(amounts)]
    write_table(root, "entries", "r", rows_to_columns("entries", rows))


def test_a_cached_metric_is_stored_and_recomputed_when_the_run_changes(tmp_path):
    _mint(tmp_path, [5, 7])
    assert m.supply_daily(connect(tmp_path), "r", "COIN")["supply"].to_list() == [12]
    stored = list((tmp_path / "_cache" / "run_id=r").glob("flows-*.parquet"))
    assert len(stored) == 1
    _mint(tmp_path, [5, 7, 30])  # the run is rewritten: a new fingerprint
    assert m.supply_daily(connect(tmp_path), "r", "COIN")["supply"].to_list() == [42]
    fresh = list((tmp_path / "_cache" / "run_id=r").glob("flows-*.parquet"))
    assert len(fresh) == 1 and fresh != stored


def test_the_cached_result_equals_the_computed_one(tmp_path):
    _mint(tmp_path, [3, 4])
    first = m.daily_active(connect(tmp_path), "r")
    again = m.daily_active(connect(tmp_path), "r")
    assert first.equals(again) and again.rows() == [(T.date(), 1, 1)]


def test_a_second_connection_reads_the_stored_result_instead_of_the_journal(tmp_path):
    _mint(tmp_path, [3, 4])
    m.flows(connect(tmp_path), "r")
    stored = next((tmp_path / "_cache" / "run_id=r").glob("flows-*.parquet"))
    before = stored.stat().st_mtime_ns
    m.flows(connect(tmp_path), "r")
    assert stored.exists() and stored.stat().st_mtime_ns == before
