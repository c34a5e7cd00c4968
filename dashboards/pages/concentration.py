"""Concentration: who holds the coins (holders only: system, platform, pool and vesting
accounts are left out)."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import metrics as m
from dashboards import ui

st.title("Concentration")
ui.explain("How evenly coins are held: the Lorenz curve, Gini over time, top holders and the shares "
           "of the largest ones (system and platform accounts excluded).")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    asset = ui.pick_asset(con, src.run_id, "conc_asset")
    c = m.concentration(con, src.run_id, asset)
    cols = st.columns(6)
    cols[0].metric("Holders", f"{c.holders:,}")
    cols[1].metric("Gini", f"{c.gini:.3f}")
    cols[2].metric("Top 1% share", f"{c.top1_share:.1%}")
    cols[3].metric("Top 10 share", f"{c.top10_share:.1%}")
    cols[4].metric("HHI", f"{c.hhi:.4f}")
    cols[5].metric("Nakamoto coefficient", f"{c.nakamoto:,}")
    left, right = st.columns(2)
    lz = m.lorenz(con, src.run_id, asset)
    fig = go.Figure([go.Scatter(x=lz["population"].to_list(), y=lz["wealth"].to_list(), name="Lorenz curve",
                                fill="tozeroy"),
                     go.Scatter(x=[0, 1], y=[0, 1], name="equality", line={"dash": "dash"})])
    fig.update_layout(title="Lorenz curve", xaxis_title="share of holders (poorest first)",
                      yaxis_title="share of coins")
    left.plotly_chart(fig, key="lorenz")
    g = m.gini_over_time(con, src.run_id, asset)
    right.plotly_chart(px.line(g, x="day", y="gini", markers=True, title="Gini over time"), key="gini")
    st.subheader("Top holders")
    st.dataframe(m.top_holders(con, src.run_id, asset, 50), hide_index=True)
