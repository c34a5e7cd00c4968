"""Dashboards benchmark: how long a user waits for each page over a large synthetic
warehouse (DESIGN.md section 8: every page drawn < 2 s over 10M journal rows).

    .venv/bin/python bench/dashboards.py                       # 1M journal rows
    .venv/bin/python bench/dashboards.py --rows 10000000 --keep /tmp/wh10m   # the target size,
                                                                # kept and reused next time

The warehouse is written directly with pyarrow in the `sim.warehouse` schema (not by the
simulator, which would take far longer to make 10M rows): one run ``bench`` with a year
of entries between 1% as many users as rows (mints, spends, transfers, escrow round
trips, burns, purchases with their USD revenue), balances, a trade tape over 20 coins,
resting orders, payments and alerts. With ``--keep DIR`` an existing warehouse there is
reused instead of rebuilt.

The figure: `coinlab dash` serves the warehouse and headless Chromium opens each page
(``?source=bench``) and waits until the script has finished and every Plotly chart on
it has drawn its SVG; a first view (new browser tab) and a second one are timed. The
reference, from the same run: the page's metrics calls alone in Python (exactly the
calls the page makes), on a new DuckDB connection once the rollups are built, and with
no rollup cache at all (``COINLAB_NO_CACHE=1``, every journal scan done by the view).
The one-off time to build the rollups is printed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import flows  # noqa: E402
from dashboards import metrics as m  # noqa: E402
from dashboards import scenarios as sc  # noqa: E402
from dashboards.warehouse import connect, sources  # noqa: E402
from sim.warehouse import SCHEMAS  # noqa: E402

RUN = "bench"
START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
YEAR_US = 365 * 86_400 * 1_000_000
PART_ROWS = 1_000_000
SYMBOLS = [f"SHOP{i + 1}" for i in range(20)]
# entry type, from, to, asset, share of rows ("u" a user, "v" another user)
KINDS = [
    ("DAILY_LOGIN", "system:mint", "u", "COIN", 0.35), ("VOTE_SPENT", "u", "platform:revenue", "COIN", 0.25),
    ("TRANSFER", "u", "v", "COIN", 0.10), ("HOLD_LOCK", "u", "system:escrow", "COIN", 0.08),
    ("HOLD_RETURN", "system:escrow", "u", "COIN", 0.07), ("REDEEM_BURN", "u", "system:burn", "COIN", 0.05),
    ("COIN_PURCHASE", "system:mint", "u", "COIN", 0.05), ("REVENUE", "external:stripe", "platform:revenue", "USD", 0.05),
]


def _table(table: str, cols: dict[str, Any], n: int) -> pa.Table:
    schema = SCHEMAS[table]
    arrays = [pa.array(np.full(n, "sim", dtype=object), pa.string()), pa.array(np.full(n, RUN, dtype=object), pa.string())]
    for f in list(schema)[2:]:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, pa.Array | pa.ChunkedArray):
            arrays.append(v.cast(f.type))
        else:
            arrays.append(pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _write(root: Path, table: str, tbl: pa.Table, part: int = 0) -> None:
    d = root / table / f"run_id={RUN}"
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(tbl, d / f"part-{part}.parquet", compression="zstd")


def _names(prefix: str, ids: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.cast(pa.array(ids), pa.string()), "")


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def generate(root: Path, rows: int, seed: int = 7) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    users = max(rows // 100, 100)
    kinds = np.array([k[4] for k in KINDS])
    next_id = 1
    for part, lo in enumerate(range(0, rows, PART_ROWS)):
        n = min(PART_ROWS, rows - lo)
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        # Times grow with the id, as a journal's do.
        t = START + (ids - 1) * (YEAR_US // rows) + rng.integers(0, YEAR_US // rows + 1, n)
        k = rng.choice(len(KINDS), n, p=kinds / kinds.sum())
        u = rng.zipf(1.3, n) % users
        v = rng.integers(0, users, n)
        etype = np.array([x[0] for x in KINDS], dtype=object)[k]
        asset = np.array([x[3] for x in KINDS], dtype=object)[k]
        amount = np.where(asset == "USD", rng.choice([499, 999, 1999, 4999, 9999], n),
                          rng.integers(1, 50, n)).astype(np.int64)
        user, other = np.asarray(_names("user:", u).to_pylist(), dtype=object), \
            np.asarray(_names("user:", v).to_pylist(), dtype=object)

        def side(which: int, user: np.ndarray = user, other: np.ndarray = other, k: np.ndarray = k) -> np.ndarray:
            fixed = np.array([x[which] for x in KINDS], dtype=object)[k]
            return np.where(fixed == "u", user, np.where(fixed == "v", other, fixed))

        frm, to = side(1), side(2)
        bal = rng.integers(0, 10_000, n).astype(np.int64)
        tbl = _table("entries", {
            "id": ids, "tx_id": pc.cast(pa.array(ids), pa.string()), "time": _ts(t), "entry_type": etype,
            "asset": asset, "amount": amount, "from_account": frm, "to_account": to, "from_before": bal + amount,
            "from_after": bal, "to_before": bal, "to_after": bal + amount}, n)
        _write(root, "entries", tbl, part)
    bal = (rng.pareto(1.2, users) * 100).astype(np.int64)
    accounts = np.asarray(_names("user:", np.arange(users)).to_pylist(), dtype=object)
    _write(root, "accounts", _table("accounts", {
        "account": accounts, "kind": np.full(users, "user", dtype=object), "role": None,
        "asset": np.full(users, "COIN", dtype=object), "balance": bal,
        "allow_negative": np.zeros(users, bool), "frozen": np.zeros(users, bool)}, users))
    ntr = rows // 20
    tt = np.sort(START + rng.integers(0, YEAR_US, ntr))
    price = (100 + np.cumsum(rng.integers(-1, 2, ntr)) % 50).astype(np.int64)
    qty = rng.integers(1, 20, ntr).astype(np.int64)
    _write(root, "trades", _table("trades", {
        "trade_id": np.arange(1, ntr + 1), "symbol": np.array(SYMBOLS, dtype=object)[rng.integers(0, 20, ntr)],
        "time": _ts(tt), "price": price, "quantity": qty, "quote": price * qty,
        "buyer": accounts[rng.integers(0, users, ntr)], "seller": accounts[rng.integers(0, users, ntr)],
        "taker_side": np.full(ntr, "buy", dtype=object), "buyer_fee": qty, "seller_fee": qty}, ntr))
    nor = 20_000
    side_ = np.where(rng.random(nor) < 0.5, "buy", "sell").astype(object)
    oprice = np.where(side_ == "buy", rng.integers(80, 100, nor), rng.integers(101, 120, nor)).astype(np.int64)
    oq = rng.integers(1, 50, nor).astype(np.int64)
    _write(root, "orders", _table("orders", {
        "order_id": np.arange(1, nor + 1), "symbol": np.array(SYMBOLS, dtype=object)[rng.integers(0, 20, nor)],
        "account": accounts[rng.integers(0, users, nor)], "side": side_, "kind": np.full(nor, "limit", dtype=object),
        "price": oprice, "quantity": oq, "filled": np.zeros(nor, np.int64), "remaining": oq,
        "status": np.full(nor, "open", dtype=object), "created_at": _ts(START + rng.integers(0, YEAR_US, nor))}, nor))
    npay = rows // 200
    paid = START + rng.integers(0, YEAR_US, npay)
    pkg = rng.integers(0, 5, npay)
    price_c = np.array([499, 999, 1999, 4999, 9999], np.int64)[pkg]
    _write(root, "payments", _table("payments", {
        "session_id": _names("cs_", np.arange(npay)), "user_id": _names("u", rng.integers(0, users, npay)),
        "package_id": np.array(["starter", "small", "medium", "large", "xl"], dtype=object)[pkg],
        "price_cents": price_c, "currency": np.full(npay, "usd", dtype=object), "base_coins": price_c,
        "bonus_coins": price_c // 10, "status": np.full(npay, "paid", dtype=object), "created_at": _ts(paid),
        "updated_at": _ts(paid), "paid_at": _ts(paid), "refunded_cents": np.zeros(npay, np.int64),
        "coins_clawed_back": np.zeros(npay, np.int64), "shortfall_coins": np.zeros(npay, np.int64),
        "disputed": np.zeros(npay, bool)}, npay))
    nal = 2_000
    _write(root, "alerts", _table("alerts", {
        "time": _ts(START + rng.integers(0, YEAR_US, nal)), "kind": np.full(nal, "defense", dtype=object),
        "symbol": np.array(SYMBOLS, dtype=object)[rng.integers(0, 20, nal)],
        "name": np.array(["price_band", "circuit_breaker"], dtype=object)[rng.integers(0, 2, nal)],
        "action": np.array(["rejected", "paused", "resumed"], dtype=object)[rng.integers(0, 3, nal)]}, nal))
    _write(root, "runs", _table("runs", {"scenario": ["bench"], "parameters": ["{}"], "seed": [seed],
                                         "users": [users], "days": [365], "summary": [f'{{"users": {users}}}']}, 1))
    return {"entries": rows, "users": users, "trades": ntr, "payments": npay}


# Each page: the metrics calls it makes (as in dashboards/pages/*.py), for the reference.
PAGES: dict[str, Callable[[Any], Any]] = {
    "overview": lambda con: (sources(con), m.headlines(con, RUN), m.supply_daily(con, RUN, "COIN"),
                             flows.by_kind(con, RUN, "COIN"), m.daily_active(con, RUN),
                             m.retention_summary(con, RUN), m.retention(con, RUN, 30)),
    "supply": lambda con: (sources(con), flows.by_kind(con, RUN, "COIN"), m.supply_daily(con, RUN, "COIN"),
                           m.velocity_daily(con, RUN, "COIN")),
    "concentration": lambda con: (sources(con), m.concentration(con, RUN), m.lorenz(con, RUN),
                                  m.gini_over_time(con, RUN), m.top_holders(con, RUN, "COIN", 50)),
    "revenue": lambda con: (sources(con), m.revenue_summary(con, RUN), m.revenue_daily(con, RUN),
                            m.revenue_by_package(con, RUN)),
    "pools": lambda con: (sources(con), flows.pool_daily(con, RUN), m.daily_active(con, RUN), flows.pools(con, RUN)),
    "markets": lambda con: (sources(con), m.market_summary(con, RUN), m.symbols(con, RUN),
                            m.candles(con, RUN, "SHOP1", "1h"), m.alerts(con, RUN, 5_000),
                            m.order_book(con, RUN, "SHOP1"), m.leaderboard(con, RUN), m.halts(con, RUN),
                            m.alerts(con, RUN)),
    "experiments": lambda con: (sources(con), sc.figures(con, RUN), sc.family_daily(con, [RUN]), sc.sweeps(con)),
}
# url path of each page (the default page is the root) and its title.
# url path of each page (the default page is the root), its title and the charts it draws
# over this warehouse (Pools draws none: the synthetic journal has no pool stakes).
URLS = {"overview": ("", "Overview", 4), "supply": ("supply", "Supply", 4),
        "concentration": ("concentration", "Concentration", 2), "revenue": ("revenue", "Revenue", 2),
        "pools": ("pools", "Pools", 0), "markets": ("markets", "Markets", 2),
        "experiments": ("experiments", "Experiments", 3)}
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# The script finished (no status widget), nothing still loading (skeletons), and every one
# of the page's ``expected`` Plotly charts has drawn its SVG.
DRAWN = """expected => {
    if (document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')) return false;
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    return charts.length >= expected && charts.every(c => c.querySelector('.js-plotly-plot .main-svg'));
}"""


def _serve(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "coinlab_cli.main", "dash", "--port", str(port), "--warehouse",
                             str(root), "--no-warm"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=Path(__file__).resolve().parent.parent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("coinlab dash did not come up") from None
            time.sleep(0.3)


def browser_times(root: Path) -> dict[str, tuple[float, float, int]]:
    """Per page: seconds until every chart is drawn on a first view (new tab) and on a
    second view, and how many charts that is."""
    from playwright.sync_api import sync_playwright

    proc, url = _serve(root)
    out = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                warm = browser.new_page()  # the first tab loads Streamlit's JS bundle once
                warm.goto(f"{url}/?source={RUN}")
                warm.wait_for_function(DRAWN, arg=URLS["overview"][2], timeout=120_000)
                warm.close()
                for name, (path, title, expected) in URLS.items():
                    times = []
                    for _ in range(2):
                        page = browser.new_page(viewport={"width": 1400, "height": 1000})
                        t = time.perf_counter()
                        page.goto(f"{url}/{path}?source={RUN}")
                        page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
                        page.wait_for_function(DRAWN, arg=expected, timeout=120_000, polling=25)
                        times.append(time.perf_counter() - t)
                        charts = page.locator('[data-testid="stPlotlyChart"]').count()
                        page.close()
                    out[name] = (times[0], times[1], charts)
            finally:
                browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="journal rows (10000000 for the target)")
    ap.add_argument("--keep", type=Path, default=None, help="write the warehouse here and keep it (reused if there)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="coinlab-bench-"))
    try:
        if args.keep is not None and any((root / "entries").glob("run_id=*/*.parquet")):
            rows = connect(root).execute("SELECT count(*) FROM entries").fetchall()[0][0]
            print(f"reusing the warehouse at {root} ({rows:,} journal rows)")
        else:
            t0 = time.perf_counter()
            sizes = generate(root, args.rows)
            rows = sizes["entries"]
            print(f"generated {sizes} in {time.perf_counter() - t0:.1f} s at {root}")
        shutil.rmtree(root / "_cache", ignore_errors=True)
        uncached = {}
        os.environ["COINLAB_NO_CACHE"] = "1"
        for page, fn in PAGES.items():
            con = connect(root)
            t = time.perf_counter()
            fn(con)
            uncached[page] = time.perf_counter() - t
            con.close()
        os.environ.pop("COINLAB_NO_CACHE")
        t = time.perf_counter()
        flows.warm(connect(root), RUN)
        built = time.perf_counter() - t
        print(f"rollups built once per export/run (coinlab export, coinlab dash and sweeps do it): {built:.2f} s")
        queries = {}
        for page, fn in PAGES.items():
            con = connect(root)  # a new connection, as each page view opens
            t = time.perf_counter()
            fn(con)
            queries[page] = time.perf_counter() - t
            con.close()
        drawn = browser_times(root)
        print(f"{'page':<14} {'drawn, 1st':>10} {'drawn, 2nd':>10} {'charts':>6}   reference: {'queries':>7} "
              f"{'ratio':>5} {'no cache':>8}   (target: drawn < 2 s)")
        for page in PAGES:
            first, second, charts = drawn[page]
            print(f"{page:<14} {first:10.2f} {second:10.2f} {charts:6d}   {'':>11}{queries[page]:7.2f} "
                  f"{first / max(queries[page], 1e-3):5.1f}x {uncached[page]:8.2f}")
        worst = max(drawn.items(), key=lambda kv: kv[1][0])
        print(f"slowest page drawn: {worst[0]} {worst[1][0]:.2f} s over {rows:,} journal rows "
              f"({'met' if worst[1][0] < 2 else 'MISSED'}: target 2 s)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
