"""Markets: the brand-coin markets: price and volume with alerts on the candles, order book
depth, leaderboards with adversarial accounts flagged, and alerts in words."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from dashboards import metrics as m
from dashboards import ui
from dashboards.alerts import ADVERSARIAL_ROLES, in_words

st.title("Markets")
ui.preload_charts()  # first: the browser loads Plotly.js while this script runs
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
    fits = [i for i, w in enumerate((1 / 12, 1 / 4, 1, 4, 24, 168)) if hours / w <= 1_500]
    interval = right.selectbox("Interval", list(m.INTERVALS), index=fits[0] if fits else len(m.INTERVALS) - 1,
                               key="interval")
    cd = ui.between(m.candles(con, src.run_id, symbol, interval), "start")
    al = ui.between(m.alerts(con, src.run_id, 5_000).filter(pl.col("symbol") == symbol), "time")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.03)
    x = cd["start"].to_list()
    fig.add_trace(go.Candlestick(x=x, open=cd["open"].to_list(), high=cd["high"].to_list(), low=cd["low"].to_list(),
                                 close=cd["close"].to_list(), name=symbol), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=cd["volume"].to_list(), name="volume"), row=2, col=1)
    if al.height and cd.height:
        # Each alert sits just above the high of the candle it fell in.
        top = float(cd["high"].max() or 0)  # type: ignore[arg-type]
        at = al.sort("time").join_asof(cd.select("start", "high").sort("start"), left_on="time", right_on="start")
        for kind, symbol_mark, colour in (("defense", "triangle-down", "#ff7f0e"), ("detector", "x", "#d62728")):
            part = at.filter(pl.col("kind") == kind)
            if part.height:
                words = [f"{n} {a}: {in_words(n, r)}" for n, a, r in
                         zip(part["name"].to_list(), part["action"].to_list(), part["reason"].to_list(), strict=True)]
                fig.add_trace(go.Scatter(
                    x=part["time"].to_list(), y=[(h or top) * 1.02 for h in part["high"].to_list()], mode="markers",
                    marker={"symbol": symbol_mark, "size": 11, "color": colour}, name=f"{kind} alert",
                    text=words, hovertemplate="%{x}<br>%{text}<extra></extra>"), row=1, col=1)
    fig.update_layout(title=f"{symbol} ({interval}); markers: defenses that acted and detector flags",
                      xaxis_rangeslider_visible=False, showlegend=True)
    fig.update_yaxes(title_text="price (COIN per coin)", row=1, col=1)
    fig.update_yaxes(title_text="coins traded", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    st.plotly_chart(fig, key="candles")
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
            depth = px.area(book, x="price", y="depth", color="side", line_shape="hv",
                            title=f"{symbol} order book depth (resting orders)")
            st.plotly_chart(ui.style(depth, x="price (COIN per coin)", y="coins resting (cumulative)"), key="depth")
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
