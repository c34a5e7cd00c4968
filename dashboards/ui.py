"""What every page shares: the warehouse connection, the source picker, and small
formatting helpers. Pages stay thin: they pick inputs here and draw what
`dashboards.metrics` returns.

The warehouse root comes from ``COINLAB_WAREHOUSE`` (set by ``coinlab dash --warehouse``;
default data/warehouse). The chosen source is kept in ``st.session_state["source"]``
(a run_id, or ``"prod"``) so it survives switching pages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import streamlit as st

from .warehouse import DEFAULT_ROOT, Source, connect, sources

__all__ = ["coins", "connection", "explain", "figure", "money", "pick_asset", "pick_source", "warehouse_root"]


def warehouse_root() -> Path:
    return Path(os.environ.get("COINLAB_WAREHOUSE") or DEFAULT_ROOT)


def connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory connection per rerun: cheap (views only), never shared between
    sessions, and it sees runs written since the last rerun."""
    return connect(warehouse_root())


def pick_source(con: duckdb.DuckDBPyConnection, *, sidebar: bool = True) -> Source | None:
    """The source picker (production or any run). None when the warehouse is empty."""
    found = sources(con)
    if not found:
        st.info(f"The warehouse at {warehouse_root()} is empty: run `coinlab export` or `coinlab sim run`.")
        return None
    ids = [s.run_id for s in found]
    if st.session_state.get("source") not in ids:
        st.session_state["source"] = ids[0]
    labels = {s.run_id: s.label for s in found}
    where: Any = st.sidebar if sidebar else st
    run_id = where.selectbox("Source", ids, key="source", format_func=labels.__getitem__)
    return next(s for s in found if s.run_id == run_id)


def pick_asset(con: duckdb.DuckDBPyConnection, run_id: str, key: str) -> str:
    assets = [r[0] for r in con.execute(
        "SELECT DISTINCT asset FROM accounts WHERE run_id = ? AND asset <> 'USD' ORDER BY asset <> 'COIN', asset",
        [run_id]).fetchall()] or ["COIN"]
    return st.selectbox("Asset", assets, key=key)


def explain(text: str) -> None:
    """The one-line explanation every page starts with."""
    st.caption(text)


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}" if cents >= 0 else f"-{money(-cents)}"


def coins(n: int) -> str:
    return f"{n:,}"


def figure(value: int, unit: str, *, signed: bool = False) -> str:
    """A headline figure as the Overview shows it (cents as dollars)."""
    sign = "+" if signed and value > 0 else ""
    return sign + (money(value) if unit == "cents" else coins(value))
