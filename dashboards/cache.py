"""A rollup cache for the metrics that scan the whole journal.

A page over 10M journal rows cannot rescan them on every view in < 2 s on a shared
machine, but what it draws is small (one row per day, per cohort...). So each cached
metric stores its result as Parquet under ``<root>/_cache/run_id=<id>/`` keyed by the
metric, its arguments and a *fingerprint* of that run's files (path, size, mtime of
every part of every table): an export that appends a part, or a simulation that rewrites
a run, changes the fingerprint and the next view recomputes (then deletes the stale
files). Results are written to a temporary name and renamed, so concurrent viewers at
worst compute the same thing twice. A read-only warehouse simply is not cached.

The connection knows its warehouse through the DuckDB variable ``coinlab_warehouse``
(set by `dashboards.warehouse.connect`); a connection without it is not cached, nor is
anything while ``COINLAB_NO_CACHE`` is set (the benchmark's uncached figures).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import polars as pl

__all__ = ["VARIABLE", "cached", "fingerprint"]

VARIABLE = "coinlab_warehouse"
F = TypeVar("F", bound=Callable[..., pl.DataFrame])


def fingerprint(root: Path, run_id: str) -> str:
    """A hash of every Parquet part of ``run_id`` in every table (path, size, mtime)."""
    h = hashlib.sha256()
    # Not the cache's own folder (``_cache``): writing a result must not invalidate it.
    parts = [p for p in root.glob(f"*/run_id={run_id}/*.parquet") if not p.parts[-3].startswith("_")]
    for part in sorted(parts):
        st = part.stat()
        h.update(f"{part.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _root(con: duckdb.DuckDBPyConnection) -> Path | None:
    try:
        value = con.execute(f"SELECT getvariable('{VARIABLE}')").fetchall()[0][0]
    except duckdb.Error:
        return None
    return Path(value) if value else None


def cached(fn: F) -> F:
    """Cache ``fn(con, run_id, *args)`` (a DataFrame) as described above."""

    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(con: duckdb.DuckDBPyConnection, run_id: str, *args: Any, **kw: Any) -> pl.DataFrame:
        root = None if os.environ.get("COINLAB_NO_CACHE") else _root(con)
        if root is None:
            return fn(con, run_id, *args, **kw)
        fp = fingerprint(root, run_id)
        # Bound with defaults, so f(con, r) and f(con, r, "COIN") share one entry.
        bound = sig.bind(con, run_id, *args, **kw)
        bound.apply_defaults()
        key = sorted((k, v) for k, v in bound.arguments.items() if k not in ("con", "run_id"))
        argkey = hashlib.sha256(repr(key).encode()).hexdigest()[:12]
        folder = root / "_cache" / f"run_id={run_id}"
        path = folder / f"{fn.__name__}-{argkey}-{fp}.parquet"
        if path.exists():
            try:
                return pl.read_parquet(path)
            except (OSError, pl.exceptions.ComputeError):
                pass  # a damaged file: recompute below
        df = fn(con, run_id, *args, **kw)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{path.name}.{os.getpid()}.tmp"
            df.write_parquet(tmp)
            os.replace(tmp, path)
            for stale in folder.glob(f"{fn.__name__}-{argkey}-*.parquet"):
                if stale != path:
                    stale.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only warehouse: serve uncached
        return df

    return wrapper  # type: ignore[return-value]
