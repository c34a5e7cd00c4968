"""What every page shares: the warehouse connection, the view state (source, compared
sources, date range) kept across pages and in the URL, and formatting helpers. Pages stay
thin: they pick inputs here and draw what `dashboards.metrics` returns.

The warehouse root comes from ``COINLAB_WAREHOUSE`` (set by ``coinlab dash --warehouse``;
default data/warehouse).

**View state.** The chosen source (``source``: a run_id or ``"prod"``), the sources
compared on Experiments (``compare``) and the date range (``from``/``to``) live in plain
session-state keys, which survive page changes; widgets get their *own* keys and are
re-seeded from those on every run. (A widget's key is dropped by Streamlit when a page
without that widget runs, which is why a picked run used to fall back to production on
the next page.) The state is mirrored into the URL's query parameters on every run, and
a new session starts from the URL, so a link reproduces the view.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from . import metrics as m
from .warehouse import DEFAULT_ROOT, Source, connect, sources

__all__ = ["assets", "between", "coins", "connection", "date_range", "dollars", "explain", "figure", "log_toggle",
           "money", "more_charts", "pct", "period", "pick_asset", "pick_source", "pick_sources", "preload_charts",
           "span", "warehouse_root"]

_STATE = ("source", "compare", "from", "to")


def warehouse_root() -> Path:
    return Path(os.environ.get("COINLAB_WAREHOUSE") or DEFAULT_ROOT)


def connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory connection per rerun: cheap (views only), never shared between
    sessions, and it sees runs written since the last rerun."""
    return connect(warehouse_root())


# -- the browser's chart code, fetched early ---------------------------------------------------
# Streamlit's frontend fetches the code of a Vega-Lite chart (its element, and vega-embed
# with Vega's expression interpreter, ~0.8 MB) only when the first chart arrives, then
# compiles and starts it: a part of a new tab's first view. Importing those chunks as
# soon as the app's first message arrives lets them load while the page's script still
# runs. (Not Plotly.js, 4.7 MB, which only the Sankey drawn on demand needs.) A page
# that opens with a table also asks for the table's chunks (~1.2 MB; 0.1-0.15 s off
# Markets' first view, measured alternating): one without would pay for them. The
# chunks' names carry a hash: read from the installed Streamlit; nothing is preloaded
# when its build has no such file.
_CHARTS = ("ArrowVegaLiteChart", "embed", "vega-interpreter")
_TABLES = ("DataFrame", "arrowFormatUtils")


@functools.cache
def _chunks(table: bool) -> tuple[str, ...]:
    static = Path(st.__file__).parent / "static" / "static" / "js"
    return tuple(p.name for name in _CHARTS + (_TABLES if table else ())
                 for p in sorted(static.glob(f"{name}.*.js"))[:1])


def preload_charts(*, table: bool = False) -> None:
    """Start loading the chart code in the browser, and the table's with ``table``
    (nothing is drawn)."""
    names = _chunks(table)
    if not names:
        return
    # Resolved against Streamlit's own bundle, as its lazy imports are: the same URL is
    # the same module, loaded once (and a base URL path is kept).
    # The element itself is hidden: an empty one still took a gap in the layout.
    st.html("<style>[data-testid=stElementContainer]:has([data-coinlab-preload]) {display: none}</style>"
            "<script data-coinlab-preload>(() => {"
            " const i = document.querySelector('script[src*=\"/static/js/index.\"]');"
            f" if (i) for (const n of {list(names)!r}) import(new URL('./' + n, i.src).href).catch(() => {{}}); }})()"
            "</script>", unsafe_allow_javascript=True)


# -- view state: session first, mirrored in the URL -------------------------------------------
def _read_url() -> None:
    """A new session starts from the URL's query parameters (once)."""
    ss = st.session_state
    if ss.get("_url_read"):
        return
    ss["_url_read"] = True
    qp = st.query_params
    if qp.get("source"):
        ss.setdefault("source", qp["source"])
    if qp.get("compare"):
        ss.setdefault("compare", [x for x in qp["compare"].split(",") if x])
    for key in ("from", "to"):
        try:
            ss.setdefault(key, date.fromisoformat(qp[key]) if qp.get(key) else None)
        except ValueError:
            st.warning(f"Ignored the link's {key}={qp[key]!r}: expected a date like 2026-03-01.")


def _write_url() -> None:
    ss = st.session_state
    want: dict[str, str] = {}
    if ss.get("source"):
        want["source"] = str(ss["source"])
    if ss.get("compare"):
        want["compare"] = ",".join(ss["compare"])
    for key in ("from", "to"):
        if ss.get(key):
            want[key] = ss[key].isoformat()
    if {k: st.query_params.get(k) for k in _STATE if k in st.query_params or k in want} != want:
        st.query_params.from_dict(want)


def _found(con: duckdb.DuckDBPyConnection) -> list[Source]:
    found = sources(con)
    if not found:
        st.info(f"The warehouse at {warehouse_root()} is empty: run `coinlab export` or `coinlab sim run`.")
    return found


def pick_source(con: duckdb.DuckDBPyConnection) -> Source | None:
    """The sidebar's source picker (production or any run, grouped and newest first; type
    to search) and the shared date range under it. None when the warehouse is empty."""
    _read_url()
    found = _found(con)
    if not found:
        return None
    ss = st.session_state
    ids = [s.run_id for s in found]
    if ss.get("source") not in ids:
        if ss.get("source"):
            st.warning(f"Source {ss['source']!r} is not in this warehouse: showing {ids[0]!r}.")
        ss["source"] = ids[0]
    by_id = {s.run_id: s for s in found}
    ss["_source_pick"] = ss["source"]
    st.sidebar.selectbox("Source", ids, key="_source_pick", format_func=lambda r: by_id[r].label,
                         on_change=_copy, args=("_source_pick", "source"),
                         help="Production, calibrated runs, forecasts, sweeps and runs, newest first: type to search.")
    src = by_id[ss["source"]]
    st.sidebar.caption(f"**{src.group}**: {src.name}")
    date_range(con, [src.run_id])
    _write_url()
    return src


def pick_sources(con: duckdb.DuckDBPyConnection, default: Sequence[str] = ()) -> list[Source]:
    """The sources compared side by side (kept as ``compare``), plus the date range."""
    _read_url()
    found = _found(con)
    by_id = {s.run_id: s for s in found}
    ss = st.session_state
    chosen = [r for r in ss.get("compare") or [] if r in by_id] or [r for r in default if r in by_id]
    ss["compare"] = chosen
    ss["_compare_pick"] = chosen
    st.multiselect("Sources to compare", list(by_id), key="_compare_pick", format_func=lambda r: by_id[r].label,
                   on_change=_copy, args=("_compare_pick", "compare"),
                   help="Any mix of production, forecasts, sweeps and runs: type to search.")
    date_range(con, ss["compare"])
    _write_url()
    return [by_id[r] for r in ss["compare"]]


def _copy(widget: str, key: str) -> None:
    st.session_state[key] = st.session_state[widget]


def date_range(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str]) -> tuple[date | None, date | None]:
    """The sidebar's date range, shared by every page (kept as ``from``/``to``); the
    picker spans the chosen sources' days. An empty range means everything."""
    ss = st.session_state
    # Each source's first and last day from its cached daily rollup, not a journal scan.
    spans = [d for d in (m.days(con, r) for r in run_ids) if d[0] is not None]
    lo = min((d[0] for d in spans), default=None)
    hi = max((d[1] for d in spans), default=None)
    if lo is None or hi is None:
        return ss.get("from"), ss.get("to")
    start = min(max(ss.get("from") or lo, lo), hi)
    end = max(min(ss.get("to") or hi, hi), start)
    ss["_range_pick"] = (start, end)
    st.sidebar.date_input("Dates", min_value=lo, max_value=hi, key="_range_pick", on_change=_copy_range,
                          help="Every page shows these days only (UTC). Clear it to see everything.")
    st.sidebar.button("All dates", key="_range_all", on_click=_clear_range)
    # Only a range the user (or the link) chose is kept: an untouched one stays open-ended,
    # so a link shared today still shows tomorrow's exported days.
    return start, end


def _copy_range() -> None:
    picked = st.session_state["_range_pick"]
    if isinstance(picked, tuple) and len(picked) == 2:
        st.session_state["from"], st.session_state["to"] = picked
    elif not picked:
        st.session_state["from"] = st.session_state["to"] = None


def _clear_range() -> None:
    st.session_state["from"] = st.session_state["to"] = None


def between(df: pl.DataFrame, column: str = "day") -> pl.DataFrame:
    """The rows of ``df`` whose ``column`` (a date, or a timestamp) falls in the date range."""
    ss = st.session_state
    if df.is_empty():
        return df
    day = pl.col(column).cast(pl.Date) if df.schema[column] != pl.Date else pl.col(column)
    if ss.get("from"):
        df = df.filter(day >= ss["from"])
    if ss.get("to"):
        df = df.filter(day <= ss["to"])
    return df


def span() -> tuple[date | None, date | None]:
    """The date range as (from, to); None for an open end."""
    return st.session_state.get("from"), st.session_state.get("to")


def period() -> str:
    """The date range in words, for titles."""
    ss = st.session_state
    lo, hi = ss.get("from"), ss.get("to")
    if not lo and not hi:
        return "all dates"
    return f"{lo or 'start'} to {hi or 'end'}"


def assets(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The coins of ``run_id``: COIN first, then its brand coins (USD is revenue, not a coin)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT asset FROM accounts WHERE run_id = ? AND asset <> 'USD' ORDER BY asset <> 'COIN', asset",
        [run_id]).fetchall()] or ["COIN"]


def pick_asset(con: duckdb.DuckDBPyConnection, run_id: str, key: str) -> str:
    return st.selectbox("Asset", assets(con, run_id), key=key)


# -- words and units --------------------------------------------------------------------------
def explain(text: str) -> None:
    """The one-line explanation every page starts with."""
    st.caption(text)


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}" if cents >= 0 else f"-{money(-cents)}"


def dollars(cents: pl.Expr | pl.Series) -> Any:
    """Cents as dollars for a chart axis (a display value: the data stays in cents)."""
    return cents / 100


def coins(n: int) -> str:
    return f"{n:,}"


def pct(share: float | None, digits: int = 1) -> str:
    return "" if share is None else f"{share:.{digits}%}"


def figure(value: int, unit: str, *, signed: bool = False) -> str:
    """A headline figure as the Overview shows it (cents as dollars)."""
    sign = "+" if signed and value > 0 else ""
    return sign + (money(value) if unit == "cents" else coins(value))


def log_toggle(key: str, help: str = "One day (often the first) can dwarf the rest: a log axis shows them all.") -> bool:
    return st.toggle("Log scale", key=key, help=help)


def more_charts(names: Sequence[str]) -> bool:
    """A toggle under a page's main charts: whether to draw its further ones, ``names``.

    A new tab spends most of its first view compiling chart code and drawing charts in
    the browser, each chart adding to it; so a page opens with its main charts and the
    others are one click away. The choice is kept (``more``) for the session: every page
    shows all its charts once it is on."""
    ss = st.session_state
    ss["_more_pick"] = bool(ss.get("more"))
    return st.toggle(f"More charts: {', '.join(names)}", key="_more_pick", on_change=_copy,
                     args=("_more_pick", "more"), help="Kept on every page until switched off.")
