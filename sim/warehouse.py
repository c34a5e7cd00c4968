"""The warehouse layout (DESIGN.md section 6): table schemas and the Parquet writer.

One layout for production exports and simulation runs, so dashboards and notebooks
read both the same way (DuckDB over Parquet). Every table is written as

    <root>/<table>/run_id=<run_id>/part-0.parquet

and every row carries ``source`` ("sim" or "prod") and ``run_id``. Writing a run's
table replaces that run's partition, so re-running a seed is idempotent. Money
columns are int64 minor units (COIN: whole coins; USD: cents); times are
``timestamp[us, UTC]``; JSON payloads (metadata, parameters) are strings.

Tables (columns in `SCHEMAS`):

- ``entries``: the journal, one row per posting, with balances before/after both sides.
- ``transactions``: one row per ledger transaction (entries grouped by ``tx_id``).
- ``accounts``: one row per (account, asset) at the end: ``balance``, ``kind`` (the
  address prefix: user, system, platform, pool ...), ``role`` (the simulated agent's
  type; null in production), ``frozen``.
- ``trades``: the brand-coin trade tape (``quote`` = price * quantity, fees in COIN).
- ``orders``: every order with its final state.
- ``candles``: OHLCV per coin and interval (1h, 1d), gapless.
- ``payments``: one row per Stripe Checkout Session (ledger/payment_store.PaymentRecord).
- ``holds``: every hold with its final status.
- ``alerts``: market defenses that acted (``kind`` = "defense") and detector flags
  (``kind`` = "detector").
- ``daily_metrics``: one row per UTC day (supply, issuance, burn, revenue, activity,
  concentration).
- ``runs``: one row per run: scenario, parameters (JSON), seed, code version, summary (JSON),
  ``kind``: what made it (`RUN_KINDS`: "production", "run", "sweep", "calibrated", "forecast",
  "backtest"), so a dashboard can group sources.
- ``sweeps``: one row per (sweep, variant, seed, metric) of an experiment (`sim.experiment`):
  ``value`` is the run's figure (a float: counts and COIN amounts are exact up to 2**53).
  Partitioned by sweep (``run_id`` = the sweep's id).

The production export (a later issue) builds the same row dicts / columns from the SQL
store and calls `write_table`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DEFAULT_ROOT", "RUN_KINDS", "RUN_TABLES", "SCHEMAS", "arrow_part", "partition_path", "read_table", "rows_to_columns",
    "to_json", "write_table", "write_table_parts",
]

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "data" / "warehouse"

_TS = pa.timestamp("us", tz="UTC")
_KEY = [("source", pa.string()), ("run_id", pa.string())]


def _schema(*cols: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(_KEY + list(cols))


SCHEMAS: dict[str, pa.Schema] = {
    "entries": _schema(
        ("id", pa.int64()), ("tx_id", pa.string()), ("time", _TS), ("entry_type", pa.string()),
        ("asset", pa.string()), ("amount", pa.int64()), ("from_account", pa.string()),
        ("to_account", pa.string()), ("from_before", pa.int64()), ("from_after", pa.int64()),
        ("to_before", pa.int64()), ("to_after", pa.int64()), ("ref_type", pa.string()),
        ("ref_id", pa.string()), ("idempotency_key", pa.string()), ("metadata", pa.string()),
        ("note", pa.string())),
    "transactions": _schema(
        ("tx_id", pa.string()), ("time", _TS), ("entry_type", pa.string()), ("entries", pa.int64()),
        ("assets", pa.string()), ("ref_type", pa.string()), ("ref_id", pa.string()),
        ("idempotency_key", pa.string())),
    "accounts": _schema(
        ("account", pa.string()), ("kind", pa.string()), ("role", pa.string()), ("asset", pa.string()),
        ("balance", pa.int64()), ("allow_negative", pa.bool_()), ("frozen", pa.bool_())),
    "trades": _schema(
        ("trade_id", pa.int64()), ("symbol", pa.string()), ("time", _TS), ("price", pa.int64()),
        ("quantity", pa.int64()), ("quote", pa.int64()), ("buyer", pa.string()), ("seller", pa.string()),
        ("taker_side", pa.string()), ("maker_order_id", pa.int64()), ("taker_order_id", pa.int64()),
        ("buyer_fee", pa.int64()), ("seller_fee", pa.int64())),
    "orders": _schema(
        ("order_id", pa.int64()), ("symbol", pa.string()), ("account", pa.string()), ("side", pa.string()),
        ("kind", pa.string()), ("price", pa.int64()), ("quantity", pa.int64()), ("filled", pa.int64()),
        ("remaining", pa.int64()), ("tif", pa.string()), ("post_only", pa.bool_()), ("status", pa.string()),
        ("reason", pa.string()), ("created_at", _TS), ("expires_at", _TS)),
    "candles": _schema(
        ("symbol", pa.string()), ("interval", pa.string()), ("start", _TS), ("open", pa.int64()),
        ("high", pa.int64()), ("low", pa.int64()), ("close", pa.int64()), ("volume", pa.int64()),
        ("quote_volume", pa.int64()), ("trades", pa.int64())),
    "payments": _schema(
        ("session_id", pa.string()), ("user_id", pa.string()), ("package_id", pa.string()),
        ("price_cents", pa.int64()), ("currency", pa.string()), ("base_coins", pa.int64()),
        ("bonus_coins", pa.int64()), ("promo_code", pa.string()), ("status", pa.string()),
        ("created_at", _TS), ("updated_at", _TS), ("expires_at", _TS), ("paid_at", _TS),
        ("payment_intent", pa.string()), ("fulfil_tx", pa.string()), ("refunded_cents", pa.int64()),
        ("coins_clawed_back", pa.int64()), ("shortfall_coins", pa.int64()), ("disputed", pa.bool_()),
        ("failure_reason", pa.string())),
    "holds": _schema(
        ("hold_id", pa.string()), ("account", pa.string()), ("asset", pa.string()), ("amount", pa.int64()),
        ("status", pa.string()), ("created_at", _TS), ("expires_at", _TS), ("settled_at", _TS),
        ("ref_type", pa.string()), ("ref_id", pa.string())),
    "alerts": _schema(
        ("time", _TS), ("kind", pa.string()), ("symbol", pa.string()), ("name", pa.string()),
        ("action", pa.string()), ("reason", pa.string()), ("account", pa.string()), ("order_id", pa.int64())),
    "daily_metrics": _schema(
        ("day", pa.date32()), ("issued", pa.int64()), ("burned", pa.int64()), ("circulating", pa.int64()),
        ("issued_today", pa.int64()), ("burned_today", pa.int64()), ("platform_coin", pa.int64()),
        ("revenue_cents", pa.int64()), ("revenue_cents_today", pa.int64()), ("users", pa.int64()),
        ("arrivals_today", pa.int64()), ("logins_today", pa.int64()), ("checkouts_today", pa.int64()),
        ("trades_today", pa.int64()), ("trade_volume_coin_today", pa.int64()),
        ("defense_alerts_today", pa.int64()), ("detector_alerts_today", pa.int64()),
        ("sybil_farmed", pa.int64()), ("gini", pa.float64()), ("top1_share", pa.float64()),
        ("free_issued_today", pa.int64()), ("purchased_issued_today", pa.int64()),
        ("bonus_issued_today", pa.int64()), ("house_burn_today", pa.int64()), ("dust_burn_today", pa.int64()),
        ("honest_volume_coin_today", pa.int64())),
    "sweeps": _schema(
        ("sweep", pa.string()), ("variant", pa.string()), ("seed", pa.int64()), ("metric", pa.string()),
        ("value", pa.float64())),
    "runs": _schema(
        ("scenario", pa.string()), ("parameters", pa.string()), ("seed", pa.int64()),
        ("users", pa.int64()), ("days", pa.int64()), ("code_version", pa.string()), ("summary", pa.string()),
        ("kind", pa.string())),
}

# What made a `runs` row (its ``kind``).
RUN_KINDS = ("production", "run", "sweep", "calibrated", "forecast", "backtest")

# The tables one run writes (``sweeps`` is written by an experiment, once for all its runs).
RUN_TABLES = tuple(t for t in SCHEMAS if t != "sweeps")


def to_json(value: Any) -> str | None:
    """Canonical JSON (sorted keys) for a metadata/parameters column; None stays null."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def partition_path(root: str | Path, table: str, run_id: str) -> Path:
    return Path(root) / table / f"run_id={run_id}" / "part-0.parquet"


def write_table(root: str | Path, table: str, run_id: str, columns: Mapping[str, Sequence[Any]],
                *, source: str = "sim") -> Path:
    """Write one run's rows of ``table`` (``columns``: name -> values, every schema column
    except ``source``/``run_id``) and return the file. Replaces the run's partition."""
    schema = SCHEMAS.get(table)
    if schema is None:
        raise ValueError(f"unknown warehouse table {table!r}: expected one of {sorted(SCHEMAS)}")
    names = [f.name for f in schema][2:]
    missing = [n for n in names if n not in columns]
    extra = [n for n in columns if n not in names]
    if missing or extra:
        raise ValueError(f"{table}: missing columns {missing}, unknown columns {extra}")
    n = len(columns[names[0]]) if names else 0
    arrays = [pa.array([source] * n, pa.string()), pa.array([run_id] * n, pa.string())]
    for f in list(schema)[2:]:
        values = columns[f.name]
        if len(values) != n:
            raise ValueError(f"{table}.{f.name} has {len(values)} values, expected {n}")
        arrays.append(_array(table, f, values))
    path = partition_path(root, table, run_id)
    if path.parent.exists():
        shutil.rmtree(path.parent)
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="zstd")
    return path


def arrow_part(table: str, columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """Rows of ``table`` as an Arrow table of its columns after ``source``/``run_id``: a
    part `write_table_parts` takes (the simulator spills its journal in these)."""
    fields = list(SCHEMAS[table])[2:]
    return pa.Table.from_arrays([_array(table, f, columns[f.name]) for f in fields], schema=pa.schema(fields))


def write_table_parts(root: str | Path, table: str, run_id: str, parts: Iterable[pa.Table],
                      *, source: str = "sim") -> Path:
    """`write_table` for a table too large to hold at once: ``parts`` (`arrow_part`
    tables) become row groups of the run's one partition file, read one at a time."""
    schema = SCHEMAS[table]
    path = partition_path(root, table, run_id)
    if path.parent.exists():
        shutil.rmtree(path.parent)
    path.parent.mkdir(parents=True)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for part in parts:
            n = part.num_rows
            keys = [pa.array([source] * n, pa.string()), pa.array([run_id] * n, pa.string())]
            writer.write_table(pa.Table.from_arrays(keys + part.columns, schema=schema))
    return path


def _array(table: str, f: pa.Field, values: Sequence[Any]) -> pa.Array:
    if f.type == pa.int64():
        # Infer first: a float (or a numeric string) in a money column is a bug to report,
        # not something to truncate quietly.
        arr = pa.array(values)
        if arr.type == pa.null():
            return arr.cast(pa.int64())
        if arr.type != pa.int64():
            raise ValueError(f"{table}.{f.name} must hold integers, got {arr.type}")
        return arr
    return pa.array(values, f.type)


def rows_to_columns(table: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Row dicts -> the column lists `write_table` takes (missing keys become null)."""
    names = [f.name for f in SCHEMAS[table]][2:]
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for row in rows:
        for n in names:
            cols[n].append(row.get(n))
    return cols


def read_table(root: str | Path, table: str, run_id: str | None = None) -> pa.Table:
    """One run's partition (or every run's) of ``table``."""
    if run_id is not None:
        return pq.read_table(partition_path(root, table, run_id))
    parts = sorted((Path(root) / table).glob("run_id=*/part-0.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts]) if parts else SCHEMAS[table].empty_table()
