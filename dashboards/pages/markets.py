"""Markets: the brand-coin markets: price and volume with alerts on the candles, order book
depth, leaderboards with adversarial accounts flagged, and alerts in words."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, ui
from dashboards import metrics as m
from dashboards.alerts import ADVERSARIAL_ROLES, in_words

st.title("Markets")
ui.preload_charts(table=True)  # first: the browser loads the chart and table code while this runs
ui.explain("Brand-coin trading: candlesticks with volume and the alerts that fired on them, the resting order "
           "book, the busiest coins and traders (adversarial accounts of a simulation flagged), and every "
           "defense and detector alert in words.")
con = ui.connection()
src = ui.pick_source(con)
lo, hi = ui.span()
summary = m.market_summary(con, src.run_id, lo, hi) if src is not None else pl.DataFrame()
syms = m.symbols(con, src.run_id) if src is not None else []
if src is not None and not syms:
    st.info("No brand-coin trades or orders in this source.")
if src is not None and syms:
    roles = dict(con.execute("SELECT DISTINCT account, role FROM accounts WHERE run_id = ? AND role IS NOT NULL",
                             [src.run_id]).fetchall())

    def flag(account: str | None) -> str:
        return "adversarial: " + roles[account] if account and roles.get(account) in ADVERSARIAL_ROLES else ""

    # Open on the coin with the most volume (a coin with no trade draws an empty chart).
    busiest = summary["symbol"].to_list() if summary.height else []
    ordered = busiest + [s for s in syms if s not in busiest]
    left, right = st.columns(2)
    symbol = left.selectbox("Coin", ordered, key="symbol", help="Coins by COIN traded in the period, busiest first.")
    # The finest interval that keeps the chart under ~1,500 candles (a year of 1h candles
    # is 8,760, which the browser takes seconds to draw).
    seconds = con.execute("SELECT coalesce(epoch(max(time)) - epoch(min(time)), 0) FROM trades "
                          "WHERE run_id = ? AND symbol = ?", [src.run_id, symbol]).fetchall()[0][0]
    hours = float(seconds) / 3600
    # Each interval's length in hours.
    widths = dict(zip(m.INTERVALS, (1 / 12, 1 / 4, 1, 4, 24, 168), strict=True))
    fits = [i for i, w in enumerate(widths.values()) if hours / w <= 1_500]
    interval = right.selectbox("Interval", list(m.INTERVALS), index=fits[0] if fits else len(m.INTERVALS) - 1,
                               key="interval")
    cd = ui.between(m.candles(con, src.run_id, symbol, interval), "start")
    al = ui.between(m.alerts(con, src.run_id, 5_000).filter(pl.col("symbol") == symbol), "time")
    if al.height and cd.height:
        # Each alert sits just above the high of the candle it fell in (the chart's top if none).
        top = float(cd["high"].max() or 0)  # type: ignore[arg-type]
        al = al.sort("time").join_asof(cd.select("start", "high").sort("start"), left_on="time", right_on="start")
        words = [f"{n} {a}: {in_words(n, r)}" for n, a, r in
                 zip(al["name"].to_list(), al["action"].to_list(), al["reason"].to_list(), strict=True)]
        al = al.with_columns(pl.col("high").fill_null(top), pl.Series("words", words, dtype=pl.String))
    else:
        al = al.clear()
    st.altair_chart(charts.candles(cd, al, seconds=widths[interval] * 3600,
                                   title=f"{symbol} ({interval}); markers: defenses that acted and detector flags"),
                    key="candles")
    st.subheader("Traders by volume")
    lb = m.leaderboard(con, src.run_id, 20, lo, hi).with_columns(
        pl.col("account").map_elements(flag, return_dtype=pl.String).alias("flag"))
    adversaries = lb.filter(pl.col("flag") != "").height
    if adversaries:
        st.warning(f"{adversaries} of the top traders are adversarial agents of the simulation (pump ring or "
                   "sybil farmer): flagged below.")
    st.dataframe(lb.select("flag", *[c for c in lb.columns if c != "flag"]), hide_index=True, column_config={
        "flag": "adversarial?", "bought": "coins bought", "sold": "coins sold", "quote_volume": "COIN traded",
        "fees": "fees (COIN)"})
    if ui.more_charts(["order book depth", "coins table", "defenses and alerts"]):
        book = m.order_book(con, src.run_id, symbol)
        if book.height:
            st.altair_chart(charts.depth(book, f"{symbol} order book depth (resting orders)"), key="depth")
        else:
            st.caption("No resting orders for this coin.")
        st.subheader("Coins")
        st.dataframe(summary, hide_index=True, column_config={
            "volume": "coins traded", "quote_volume": "COIN traded", "fees": "fees (COIN)",
            "last_price": "last price (COIN)", "high": "high (COIN)", "low": "low (COIN)"})
        st.subheader("Defenses and alerts")
        h = m.halts(con, src.run_id)
        if h.height:
            st.dataframe(h, hide_index=True, column_config={"name": "defense or detector", "count": "times acted",
                                                             "halts": "trading paused"})
            every = ui.between(m.alerts(con, src.run_id), "time")
            words = [in_words(n, r) for n, r in zip(every["name"].to_list(), every["reason"].to_list(), strict=True)]
            every = every.with_columns(pl.Series("what happened", words, dtype=pl.String),
                                       pl.col("account").map_elements(flag, return_dtype=pl.String).alias("flag"))
            st.dataframe(every.select("time", "kind", "symbol", "name", "action", "what happened", "account", "flag"),
                         hide_index=True, column_config={
                             "time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm"),
                             "flag": "adversarial?"})
        else:
            st.caption("No defense acted and no detector flag.")
