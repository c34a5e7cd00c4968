"""Concentration: who holds the coins (holders only: system, platform, pool and vesting
accounts are left out)."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, ui
from dashboards import metrics as m

st.title("Concentration")
ui.preload_charts()  # first: the browser loads the chart code while this script runs
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
    left.altair_chart(charts.lorenz(m.lorenz(con, src.run_id, asset), "Lorenz curve"), key="lorenz")
    g = ui.between(m.gini_over_time(con, src.run_id, asset))
    # The whole 0..1 scale: a zoomed axis makes a 0.01 drift look like a collapse.
    right.altair_chart(charts.line(g, y="gini", title="Gini over time", y_title="Gini (0 equal .. 1 one holder)",
                                   points=True, domain=(0, 1)), key="gini")
    if ui.more_charts(["top holders"]):
        st.subheader("Top holders")
        st.dataframe(m.top_holders(con, src.run_id, asset, 50), hide_index=True, column_config={
            "role": "role (simulated agent)", "balance": st.column_config.NumberColumn(f"balance ({asset})",
                                                                                       format="localized"),
            "share": st.column_config.NumberColumn("share of holders' coins", format="percent")})
