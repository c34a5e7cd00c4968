"""Concentration: who holds the coins (holders only: system, platform, pool and vesting
accounts are left out)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import metrics as m
from dashboards import ui

st.title("Concentration")
ui.preload_charts()  # first: the browser loads Plotly.js while this script runs
ui.explain("How evenly coins are held at the end of the source: the Lorenz curve, top holders and the shares "
           "of the largest ones (system and platform accounts excluded); Gini over time follows the date range.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    asset = ui.pick_asset(con, src.run_id, "conc_asset")
    c = m.concentration(con, src.run_id, asset)
    cols = st.columns(6)
    cols[0].metric("Holders", f"{c.holders:,}")
    cols[1].metric("Gini", f"{c.gini:.3f}", help="0: everyone holds the same; 1: one holder has everything")
    cols[2].metric("Top 1% share", ui.pct(c.top1_share))
    cols[3].metric("Top 10 share", ui.pct(c.top10_share))
    cols[4].metric("HHI", f"{c.hhi:.4f}", help="sum of squared shares: 1/holders (even) .. 1 (one holder)")
    cols[5].metric("Nakamoto coefficient", f"{c.nakamoto:,}", help="the fewest holders that together hold > 50%")
    left, right = st.columns(2)
    lz = m.lorenz(con, src.run_id, asset)
    fig = go.Figure([go.Scatter(x=lz["population"].to_list(), y=lz["wealth"].to_list(), name="Lorenz curve",
                                fill="tozeroy"),
                     go.Scatter(x=[0, 1], y=[0, 1], name="equality", line={"dash": "dash"})])
    fig.update_layout(title="Lorenz curve")
    fig.update_xaxes(tickformat=".0%")
    left.plotly_chart(ui.style(fig, x="share of holders (poorest first)", y="share of coins", percent_axis=True),
                      key="lorenz")
    g = ui.between(m.gini_over_time(con, src.run_id, asset))
    # A graph object, not plotly.express (~0.1 s a chart on the server).
    fig = go.Figure(go.Scatter(x=g["day"].to_list(), y=g["gini"].to_list(), mode="lines+markers", name="Gini"))
    fig.update_layout(title="Gini over time")
    # The whole 0..1 scale: a zoomed axis makes a 0.01 drift look like a collapse.
    fig.update_yaxes(range=[0, 1])
    right.plotly_chart(ui.style(fig, x="day (UTC)", y="Gini (0 equal .. 1 one holder)"), key="gini")
    if ui.more_charts(["top holders"]):
        st.subheader("Top holders")
        st.dataframe(m.top_holders(con, src.run_id, asset, 50), hide_index=True, column_config={
            "role": "role (simulated agent)", "balance": st.column_config.NumberColumn(f"balance ({asset})",
                                                                                       format="localized"),
            "share": st.column_config.NumberColumn("share of holders' coins", format="percent")})
