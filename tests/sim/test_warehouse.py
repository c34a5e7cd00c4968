"""The warehouse writer: the layout, the types (integers stay integers), and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.warehouse import (
    RUN_TABLES,
    SCHEMAS,
    partition_path,
    read_table,
    rows_to_columns,
    write_table,
)


def test_a_run_writes_every_table_in_the_layout_with_source_and_run_id(baseline_run):
    _, result, root = baseline_run
    for table in RUN_TABLES:
        path = partition_path(root, table, result.run_id)
        assert result.paths[table] == str(path)
        t = pq.read_table(path)
        assert t.schema.equals(SCHEMAS[table])
        if t.num_rows:
            assert set(t.column("source").to_pylist()) == {"sim"}
            assert set(t.column("run_id").to_pylist()) == {result.run_id}


def test_money_columns_are_int64_and_match_the_ledger(baseline_run):
    model, result, root = baseline_run
    entries = read_table(root, "entries", result.run_id)
    assert entries.schema.field("amount").type == pa.int64()
    assert entries.num_rows == len(model.ledger.store.book.journal)
    accounts = read_table(root, "accounts", result.run_id).to_pylist()
    mint = next(r for r in accounts if r["account"] == "system:mint" and r["asset"] == "COIN")
    assert -mint["balance"] == result.summary["issued"]
    runs = read_table(root, "runs", result.run_id).to_pylist()
    assert runs[0]["scenario"] == "baseline" and runs[0]["seed"] == 7 and runs[0]["code_version"]
    assert runs[0]["kind"] == "run"


def test_daily_metrics_have_one_row_per_day(baseline_run):
    _, result, root = baseline_run
    days = read_table(root, "daily_metrics", result.run_id).to_pylist()
    assert [d["day"].day for d in days] == list(range(1, 9))
    assert days[-1]["issued"] == result.summary["issued"]


def test_writing_again_replaces_the_partition(tmp_path):
    cols = rows_to_columns("alerts", [{"time": datetime(2026, 1, 1, tzinfo=UTC), "kind": "defense", "order_id": 3}])
    write_table(tmp_path, "alerts", "r1", cols)
    write_table(tmp_path, "alerts", "r1", cols)
    assert read_table(tmp_path, "alerts").num_rows == 1


def test_bad_tables_and_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown warehouse table"):
        write_table(tmp_path, "nope", "r1", {})
    with pytest.raises(ValueError, match="missing columns"):
        write_table(tmp_path, "alerts", "r1", {"time": []})
    with pytest.raises(ValueError, match="holds.amount must hold integers"):
        cols = rows_to_columns("holds", [{"amount": 1.5}])
        write_table(tmp_path, "holds", "r1", cols)
    assert not (tmp_path / "holds").exists() or not any((tmp_path / "holds").rglob("*.parquet"))


def test_the_sweeps_table_is_a_duckdb_view_over_every_experiment(tmp_path):
    from dashboards.warehouse import connect
    from sim.experiment import Variant
    from sim.runner import experiment

    exp = experiment("baseline", [Variant("a", ()), Variant("b", ("rewards.daily_login=5",))], "a", 2,
                     workers=1, users=20, days=2, root=tmp_path, write_runs=False)
    con = connect(tmp_path)
    rows = con.execute("SELECT variant, count(DISTINCT seed) FROM sweeps WHERE sweep = ? AND metric = 'free_issued' "
                       "GROUP BY variant ORDER BY variant", [exp.sweep]).fetchall()
    assert rows == [("a", 2), ("b", 2)]
    assert con.execute("SELECT typeof(value) FROM sweeps LIMIT 1").fetchone() == ("DOUBLE",)
