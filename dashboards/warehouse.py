"""The warehouse as DuckDB sees it: one view per table of `sim.warehouse.SCHEMAS` over
the Parquet of production and of every simulation run.

Every view reads ``<root>/<table>/run_id=*/*.parquet`` (hive partitions, columns unified
by name), so production (``run_id = 'prod'``, ``source = 'prod'``) and runs look alike
and a metric filters on ``run_id``. A table with no file yet is an empty view with the
same columns, so queries never fail on a fresh warehouse.

Connections are in-memory DuckDB databases that only *read* Parquet: nothing is locked,
and the exporter and the simulator write each part to a temporary name and rename it,
so a reader never sees half a file and never blocks a writer.

``sweeps`` (sweep, variant, seed, metric, value) is partitioned by sweep rather than by
run: ``run_id`` there is the sweep's id, and ``SELECT ... FROM sweeps WHERE sweep = ?`` reads
one experiment's every variant and seed.

Mutable production tables (accounts, payments, orders, holds) are rewritten whole by each
export; the append-only ones (entries, transactions, trades) gain one part per export.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from sim.warehouse import DEFAULT_ROOT, SCHEMAS

from .cache import VARIABLE

__all__ = ["DEFAULT_ROOT", "PROD", "Source", "connect", "sources"]

PROD = "prod"

_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE", pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


class Source(NamedTuple):
    """One thing the dashboards can show: production or a simulation run.
    ``label`` is what a picker displays; ``scenario`` is None for production."""

    run_id: str
    source: str
    scenario: str | None
    label: str


def _empty_select(table: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS \"{f.name}\"" for f in SCHEMAS[table])
    return f"SELECT {cols} WHERE false"


def connect(root: str | Path = DEFAULT_ROOT) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection with a view per warehouse table over ``root``."""
    root = Path(root)
    con = duckdb.connect(":memory:")
    # The machines are shared: two threads is what a page may take.
    con.execute("SET threads TO 2")
    con.execute("SET TimeZone = 'UTC'")
    # Where the rollup cache (dashboards.cache) keeps its files.
    quoted = str(root.resolve()).replace("'", "''")
    con.execute(f"SET VARIABLE {VARIABLE} = '{quoted}'")
    for table in SCHEMAS:
        files = sorted((root / table).glob("run_id=*/*.parquet"))
        if files:
            glob = str(root / table / "run_id=*" / "*.parquet").replace("'", "''")
            sql = f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
        else:
            sql = _empty_select(table)
        con.execute(f"CREATE OR REPLACE VIEW {table} AS {sql}")
    return con


def sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    """Production first (when exported), then every run, newest scenario names sorted."""
    out: list[Source] = []
    if con.execute("SELECT count(*) FROM (SELECT 1 FROM entries WHERE run_id = ? LIMIT 1)", [PROD]).fetchall()[0][0]:
        out.append(Source(PROD, PROD, None, "production"))
    rows = con.execute(
        "SELECT run_id, scenario, users, days, seed FROM runs WHERE run_id <> ? ORDER BY scenario, run_id",
        [PROD]).fetchall()
    for run_id, scenario, users, days, seed in rows:
        out.append(Source(run_id, "sim", scenario, f"{scenario} ({users} users, {days} d, seed {seed}) {run_id}"))
    return out
