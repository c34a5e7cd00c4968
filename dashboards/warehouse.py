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

import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from sim.warehouse import DEFAULT_ROOT, SCHEMAS

from .cache import VARIABLE

__all__ = ["DEFAULT_ROOT", "GROUPS", "PROD", "Source", "connect", "describe", "family_of", "sources"]

PROD = "prod"

_DUCK_TYPES = {
    pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE", pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


class Source(NamedTuple):
    """One thing the dashboards can show: production or a simulation run.

    ``kind`` is what made it (`sim.warehouse.RUN_KINDS`), ``name`` says what it is in
    words (scenario and what it overrides; a forecast's group and variant), ``family``
    is the same for runs that differ only by seed (their spread is a fan chart),
    ``created`` the time its files were written (epoch seconds) and ``label`` what a
    picker displays (unique: it ends with the run id)."""

    run_id: str
    source: str
    scenario: str | None
    label: str
    kind: str = "run"
    name: str = ""
    family: str = ""
    created: float = 0.0
    users: int | None = None
    days: int | None = None
    seed: int | None = None
    forecast: dict[str, str] | None = None

    @property
    def group(self) -> str:
        return GROUPS.get(self.kind, self.kind.title())


# The picker's groups, in this order; inside a group, newest first.
GROUPS = {"production": "Production", "calibrated": "Calibrated", "forecast": "Forecasts",
          "backtest": "Backtests", "sweep": "Sweeps", "run": "Runs"}


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


def _flat(table: Any, prefix: str = "") -> list[str]:
    if not isinstance(table, dict):
        return [f"{prefix}={table}"]
    return [x for k, v in sorted(table.items()) for x in _flat(v, f"{prefix}.{k}" if prefix else k)]


def describe(scenario: str | None, parameters: dict[str, Any]) -> str:
    """A run in words: its scenario and the overrides it ran with (``key=value``)."""
    sets = _flat(parameters.get("overrides") or {})
    return " ".join([scenario or "?", *sets]) if sets else f"{scenario or '?'} (as configured)"


def family_of(scenario: str | None, parameters: dict[str, Any]) -> str:
    """A key shared by runs that differ only by their seed."""
    p = json.loads(json.dumps(parameters))
    (p.get("population") or {}).pop("seed", None)
    p.pop("forecast", None)
    digest = hashlib.sha256(json.dumps([scenario, p], sort_keys=True).encode()).hexdigest()[:12]
    return f"{scenario}-{digest}"


def _created(con: duckdb.DuckDBPyConnection, run_id: str) -> float:
    try:
        root = con.execute(f"SELECT getvariable('{VARIABLE}')").fetchall()[0][0]
    except duckdb.Error:
        return 0.0
    parts = list(Path(root or ".").glob(f"runs/run_id={run_id}/*.parquet")) if root else []
    return max((p.stat().st_mtime for p in parts), default=0.0)


def _kind(run_id: str, kind: str | None) -> str:
    # Parquet written before the column existed has no kind.
    return kind or ("production" if run_id == PROD else "run")


def sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    """Production first (when exported), then every run grouped by kind (`GROUPS`),
    newest first inside a group."""
    out: list[Source] = []
    if con.execute("SELECT count(*) FROM (SELECT 1 FROM entries WHERE run_id = ? LIMIT 1)", [PROD]).fetchall()[0][0]:
        out.append(Source(PROD, PROD, None, "Production", kind="production", name="production",
                          family=PROD))
    cols = {r[0] for r in con.execute("DESCRIBE runs").fetchall()}
    kind_col = "kind" if "kind" in cols else "NULL"
    rows = con.execute(
        f"SELECT run_id, scenario, users, days, seed, parameters, {kind_col} FROM runs WHERE run_id <> ?",
        [PROD]).fetchall()
    runs = []
    for run_id, scenario, users, days, seed, params, kind in rows:
        p = json.loads(params or "{}")
        kind = _kind(run_id, kind)
        fc = p.get("forecast") if isinstance(p.get("forecast"), dict) else None
        if fc:
            name = f"forecast {fc.get('group', '?')}: {fc.get('variant', '?')} config from {fc.get('from_day', '?')}"
        else:
            name = describe(scenario, p)
        size = f"{users:,} users x {days} d, seed {seed}" if users is not None else f"seed {seed}"
        label = f"{GROUPS.get(kind, kind.title())} · {name} · {size} · {run_id}"
        runs.append(Source(run_id, "sim", scenario, label, kind=kind, name=name, family=family_of(scenario, p),
                           created=_created(con, run_id), users=users, days=days, seed=seed, forecast=fc))
    order = list(GROUPS)
    runs.sort(key=lambda s: (order.index(s.kind) if s.kind in order else len(order), -s.created, s.run_id))
    return out + runs
