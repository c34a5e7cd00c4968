"""The production export: the SQL ledger (journal, balances, holds, payments, market
orders and trades) -> the warehouse layout of `sim.warehouse`, ``source = run_id = 'prod'``.

Incremental. The journal and the trade tape are append-only, so each export appends one
new part (``part-<n>.parquet``) holding only the rows past a watermark kept in
``<root>/_export/prod.json``. On PostgreSQL ids come from a sequence and concurrent
writers commit out of id order, so a row with a smaller id can become visible after a
larger one: the state also keeps the *gaps* below the watermark (ids not seen yet) and
looks for them again next time; a gap older than `GAP_TTL` is a rolled-back id and is
dropped. The current-state tables (accounts, payments, orders, holds) are small next to
the journal and change in place, so they are rewritten whole; candles are re-derived
from the exported tape.

Safe while the service writes: everything is read in one read-only snapshot transaction
(REPEATABLE READ on PostgreSQL; a deferred read transaction on SQLite in WAL mode, which
never blocks the writer). Parts are written to a temporary name and renamed, then the
state file is replaced; a part the state does not list (a crash in between) is deleted
by the next export before it writes, so no row is ever exported twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, create_engine, event, or_, select

from ledger.economy import schema as es
from ledger.sql import schema as s
from service import tables as ss
from sim.warehouse import SCHEMAS, to_json

__all__ = ["GAP_TTL", "ExportResult", "export", "load_state"]

SOURCE = RUN_ID = "prod"
GAP_TTL = 600.0  # seconds: no ledger transaction stays open this long
APPENDED = ("entries", "transactions", "trades")
BATCH = 200_000  # journal rows per fetch


class ExportResult(NamedTuple):
    """What one export wrote: ``rows`` per table (new rows for the appended tables, all
    rows for the rewritten ones) and the journal watermark after it."""

    rows: dict[str, int]
    entries_watermark: int
    trades_watermark: int
    seconds: float


# -- state ----------------------------------------------------------------------------------
def _state_path(root: Path) -> Path:
    return root / "_export" / f"{RUN_ID}.json"


def load_state(root: str | Path) -> dict[str, Any]:
    """``{"entries": {"watermark", "gaps": [[id, first_seen_unix], ...]}, "trades": {...},
    "parts": {table: [file names]}, "exports": n}``; a fresh one if none was written."""
    p = _state_path(Path(root))
    if p.exists():
        return json.loads(p.read_text())
    return {"entries": {"watermark": 0, "gaps": []}, "trades": {"watermark": 0, "gaps": []},
            "parts": {t: [] for t in APPENDED}, "exports": 0}


def _atomic_write_bytes(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_state(root: Path, state: dict[str, Any]) -> None:
    _atomic_write_bytes(_state_path(root), lambda p: p.write_text(json.dumps(state, indent=1)))


# -- reading the SQL store in one snapshot --------------------------------------------------
def _engine(url: str) -> Any:
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith("sqlite"):
        return create_engine(url, isolation_level="REPEATABLE READ", pool_size=1)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _setup(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # DEFERRED (not the store's IMMEDIATE): a reader in WAL mode sees one snapshot
        # from its first read and never takes the write lock.
        conn.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def _snapshot(url: str) -> Any:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(postgresql_readonly=True)
            with conn.begin():
                yield conn
    finally:
        engine.dispose()


def _utc(v: datetime | None) -> datetime | None:
    if v is None:
        return None
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _new_ids_query(table: Any, id_col: Any, mark: Mapping[str, Any]) -> Any:
    gaps = [g[0] for g in mark["gaps"]]
    cond = id_col > mark["watermark"]
    if gaps:
        cond = or_(cond, id_col.in_(gaps))
    return select(table).where(cond).order_by(id_col)


def _advance(mark: dict[str, Any], ids: Sequence[int], now: float) -> dict[str, Any]:
    """The new watermark and gaps after seeing ``ids`` (sorted) past the old mark."""
    seen = set(ids)
    gaps = [g for g in mark["gaps"] if g[0] not in seen and now - g[1] < GAP_TTL]
    old = mark["watermark"]
    new = max([old, *ids])
    fresh = sorted(seen.difference(g[0] for g in mark["gaps"]))
    expected = old + 1
    for i in fresh:
        if i > old:
            gaps.extend([g, now] for g in range(expected, i))
            expected = i + 1
    return {"watermark": new, "gaps": gaps}


# -- writing parts --------------------------------------------------------------------------
def _table(table: str, columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    schema = SCHEMAS[table]
    names = [f.name for f in schema][2:]
    n = len(columns[names[0]])
    arrays = [pa.array([SOURCE] * n, pa.string()), pa.array([RUN_ID] * n, pa.string())]
    for f in list(schema)[2:]:
        arrays.append(pa.array(columns[f.name], f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _partition(root: Path, table: str) -> Path:
    return root / table / f"run_id={RUN_ID}"


def _write(path: Path, tbl: pa.Table) -> None:
    _atomic_write_bytes(path, lambda p: pq.write_table(tbl, p, compression="zstd"))


def _cols(names: str, rows: Iterable[Sequence[Any]]) -> dict[str, list[Any]]:
    keys = names.split()
    cols: dict[str, list[Any]] = {k: [] for k in keys}
    for row in rows:
        for k, v in zip(keys, row, strict=True):
            cols[k].append(v)
    return cols


def _kind(address: str) -> str:
    return address.split(":", 1)[0]


# -- the export -----------------------------------------------------------------------------
def export(url: str, root: str | Path, *, now: float | None = None, warm: bool = True) -> ExportResult:
    """Export what is new in the SQL ledger at ``url`` into the warehouse at ``root``;
    ``warm``: then build the dashboards' cached rollups of production."""
    started = time.perf_counter()
    root = Path(root)
    now = time.time() if now is None else now
    state = load_state(root)
    _drop_orphans(root, state)
    rows: dict[str, int] = {}
    seq = state["exports"] + 1
    with _snapshot(url) as conn:
        entries, txs = _read_journal(conn, state["entries"])
        trades = [tuple(r) for r in conn.execute(_new_ids_query(ss.market_trades, ss.market_trades.c.id,
                                                                state["trades"]))]
        current = _read_current(conn)
    new_parts: dict[str, str] = {}
    if entries["id"]:
        new_parts["entries"] = _append(root, "entries", seq, entries)
        new_parts["transactions"] = _append(root, "transactions", seq, txs)
    if trades:
        new_parts["trades"] = _append(root, "trades", seq, _cols(
            "trade_id symbol time price quantity quote buyer seller taker_side maker_order_id taker_order_id "
            "buyer_fee seller_fee", ((*t[:2], _utc(t[2]), *t[3:]) for t in trades)))
    rows["entries"], rows["transactions"], rows["trades"] = len(entries["id"]), len(txs["tx_id"]), len(trades)
    for table, cols in current.items():
        _write(_partition(root, table) / "part-0.parquet", _table(table, cols))
        rows[table] = len(next(iter(cols.values())))
    state["entries"] = _advance(state["entries"], entries["id"], now)
    state["trades"] = _advance(state["trades"], [t[0] for t in trades], now)
    for table, name in new_parts.items():
        state["parts"].setdefault(table, []).append(name)
    state["exports"] = seq
    _save_state(root, state)
    rows["candles"] = _write_candles(root)
    if warm:
        from .flows import warm as build_rollups
        from .warehouse import connect

        build_rollups(connect(root), RUN_ID)
    return ExportResult(rows, state["entries"]["watermark"], state["trades"]["watermark"],
                        time.perf_counter() - started)


def _drop_orphans(root: Path, state: Mapping[str, Any]) -> None:
    for table in APPENDED:
        listed = set(state["parts"].get(table, []))
        for f in _partition(root, table).glob("part-*.parquet"):
            if f.name not in listed:
                f.unlink()


def _append(root: Path, table: str, seq: int, cols: Mapping[str, Sequence[Any]]) -> str:
    name = f"part-{seq:06d}.parquet"
    _write(_partition(root, table) / name, _table(table, cols))
    return name


def _read_journal(conn: Connection, mark: Mapping[str, Any]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    names = ("id tx_id time entry_type asset amount from_account to_account from_before from_after to_before "
             "to_after ref_type ref_id idempotency_key metadata note")
    cols: dict[str, list[Any]] = {k: [] for k in names.split()}
    txs: dict[str, list[Any]] = {}
    result = conn.execution_options(yield_per=BATCH).execute(_new_ids_query(s.entries, s.entries.c.id, mark))
    for r in result:
        t = _utc(r.time)
        for k, v in zip(cols, (r.id, r.tx_id, t, r.entry_type, r.asset, r.amount, r.from_account, r.to_account,
                               r.from_before, r.from_after, r.to_before, r.to_after, r.ref_type, r.ref_id,
                               r.idempotency_key, to_json(r.metadata), r.note), strict=True):
            cols[k].append(v)
        # A transaction's entries commit together, so a new entry's transaction is new too.
        tx = txs.get(r.tx_id)
        if tx is None:
            txs[r.tx_id] = [r.tx_id, t, r.entry_type, 1, {r.asset}, r.ref_type, r.ref_id, r.idempotency_key]
        else:
            tx[3] += 1
            tx[4].add(r.asset)
    tx_cols = _cols("tx_id time entry_type entries assets ref_type ref_id idempotency_key",
                    ((*x[:4], ",".join(sorted(x[4])), *x[5:]) for x in txs.values()))
    return cols, tx_cols


def _read_current(conn: Connection) -> dict[str, dict[str, list[Any]]]:
    acc = {r.address: (r.allow_negative, r.frozen) for r in conn.execute(select(s.accounts))}
    balances = sorted(conn.execute(select(s.balances.c.account, s.balances.c.asset, s.balances.c.balance)))
    out = {"accounts": _cols("account kind role asset balance allow_negative frozen", (
        (a, _kind(a), None, x, b, bool(acc.get(a, (False, False))[0]), bool(acc.get(a, (False, False))[1]))
        for a, x, b in balances))}
    h = s.holds.c
    out["holds"] = _cols("hold_id account asset amount status created_at expires_at settled_at ref_type ref_id", (
        (r.id, r.account, r.asset, r.amount, r.status, _utc(r.created_at), _utc(r.expires_at), _utc(r.settled_at),
         r.ref_type, r.ref_id) for r in conn.execute(select(s.holds).order_by(h.created_at, h.id))))
    p = es.payments.c
    out["payments"] = _cols(
        "session_id user_id package_id price_cents currency base_coins bonus_coins promo_code status created_at "
        "updated_at expires_at paid_at payment_intent fulfil_tx refunded_cents coins_clawed_back shortfall_coins "
        "disputed failure_reason", (
            (r.session_id, r.user_id, r.package_id, r.price_cents, r.currency, r.base_coins, r.bonus_coins,
             r.promo_code, r.status, _utc(r.created_at), _utc(r.updated_at), _utc(r.expires_at), _utc(r.paid_at),
             r.payment_intent, r.fulfil_tx, r.refunded_cents, r.coins_clawed_back, r.shortfall_coins,
             bool(r.disputed), r.failure_reason)
            for r in conn.execute(select(es.payments).order_by(p.created_at, p.session_id))))
    o = ss.market_orders.c
    out["orders"] = _cols(
        "order_id symbol account side kind price quantity filled remaining tif post_only status reason "
        "created_at expires_at", (
            (r.id, r.symbol, r.account, r.side, r.kind, r.price, r.quantity, r.filled, r.remaining, r.tif,
             bool(r.post_only), r.status, r.reason, _utc(r.created_at), _utc(r.expires_at))
            for r in conn.execute(select(ss.market_orders).order_by(o.id))))
    out["runs"] = {"scenario": ["production"], "parameters": [None], "seed": [None], "users": [None],
                   "days": [None], "code_version": [None], "summary": [None], "kind": ["production"]}
    return out


def _write_candles(root: Path) -> int:
    """1h and 1d candles of the exported tape (derived, so rewritten whole)."""
    trades = _partition(root, "trades")
    path = _partition(root, "candles") / "part-0.parquet"
    if not any(trades.glob("*.parquet")):
        _write(path, SCHEMAS["candles"].empty_table())
        return 0
    glob = str(trades / "*.parquet").replace("'", "''")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    parts = []
    for interval, width in (("1h", "1 hour"), ("1d", "1 day")):
        parts.append(f"""
            SELECT symbol, '{interval}' AS interval, time_bucket(INTERVAL '{width}', time) AS start,
                   arg_min(price, trade_id) AS open, max(price) AS high, min(price) AS low,
                   arg_max(price, trade_id) AS close, sum(quantity)::BIGINT AS volume,
                   sum(quote)::BIGINT AS quote_volume, count(*)::BIGINT AS trades
            FROM read_parquet('{glob}') GROUP BY symbol, start""")
    tbl = con.sql(" UNION ALL ".join(parts) + " ORDER BY symbol, interval, start").to_arrow_table()
    con.close()
    cols = {f.name: tbl.column(f.name).to_pylist() for f in list(SCHEMAS["candles"])[2:]}
    _write(path, _table("candles", cols))
    return tbl.num_rows
