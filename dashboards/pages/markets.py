"""Markets: the brand-coin markets: price and volume, order book depth, leaderboards and alerts."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboards import metrics as m
from dashboards import ui

st.title("Markets")
ui.explain("Brand-coin trading: candlesticks with volume for any coin and interval, the resting order book, "
           "the busiest coins and traders, and the defenses and detector alerts that fired.")
con = ui.connection()
src = ui.pick_source(con)
syms = m.symbols(con, src.run_id) if src is not None else []
if src is not None and not syms:
    st.info("No brand-coin trades or orders in this source.")
if src is not None and syms:
    left, right = st.columns(2)
    symbol = left.selectbox("Coin", syms, key="symbol")
    interval = right.selectbox("Interval", list(m.INTERVALS), index=2, key="interval")
    cd = m.candles(con, src.run_id, symbol, interval)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.03)
    x = cd["start"].to_list()
    fig.add_trace(go.Candlestick(x=x, open=cd["open"].to_list(), high=cd["high"].to_list(), low=cd["low"].to_list(),
                                 close=cd["close"].to_list(), name=symbol), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=cd["volume"].to_list(), name="volume"), row=2, col=1)
    fig.update_layout(title=f"{symbol} ({interval})", xaxis_rangeslider_visible=False, showlegend=False)
    st.plotly_chart(fig, key="candles")
    book = m.order_book(con, src.run_id, symbol)
    if book.height:
        depth = px.area(book, x="price", y="depth", color="side", line_shape="hv",
                        title=f"{symbol} order book depth (resting orders)")
        st.plotly_chart(depth, key="depth")
    else:
        st.caption("No resting orders for this coin.")
    st.subheader("Coins")
    st.dataframe(m.market_summary(con, src.run_id), hide_index=True)
    st.subheader("Traders by volume")
    st.dataframe(m.leaderboard(con, src.run_id), hide_index=True)
    st.subheader("Defenses and alerts")
    h = m.halts(con, src.run_id)
    if h.height:
        st.dataframe(h, hide_index=True)
        st.dataframe(m.alerts(con, src.run_id), hide_index=True)
    else:
        st.caption("No defense acted and no detector flag.")
