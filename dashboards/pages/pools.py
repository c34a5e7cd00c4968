"""Pools: parimutuel pools: stakes, participation, payouts and the house burn on its own."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import flows, ui
from dashboards import metrics as m

st.title("Pools")
ui.explain("Parimutuel pools: how many stakes and coins go in, how many users take part, what winners are "
           "paid, what is refunded, and the coins the house fee and payout rounding (dust) burn.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    daily = ui.between(flows.pool_daily(con, src.run_id))
    if daily.is_empty():
        st.info("No pool stakes in this source and period (pools open in Phase 2 scenarios, e.g. phase2_pools).")
    else:
        ui.preload_charts()  # only here: a page with no chart to draw would pay for it
        active = ui.between(m.daily_active(con, src.run_id))
        part = daily.join(active.select("day", "active"), on="day", how="left").with_columns(
            pl.when(pl.col("active") > 0).then(pl.col("stakers") / pl.col("active")).alias("participation"))
        total = {c: int(daily[c].sum()) for c in ("stakes", "staked", "payouts", "refunds", "house_burn",
                                                   "dust_burn")}
        cols = st.columns(6)
        cols[0].metric("Stakes", f"{total['stakes']:,}")
        cols[1].metric("Coins staked", ui.coins(total["staked"]))
        cols[2].metric("Paid to winners", ui.coins(total["payouts"]))
        cols[3].metric("Refunded", ui.coins(total["refunds"]), help="stakes returned (voided pools, one-sided pots)")
        cols[4].metric("House fee burned", ui.coins(total["house_burn"]), help="the pools' fee, destroyed")
        cols[5].metric("Dust burned", ui.coins(total["dust_burn"]), help="payout rounding remainders, destroyed")
        left, right = st.columns(2)
        x = daily["day"].to_list()
        fig = go.Figure([go.Bar(x=x, y=daily["staked"].to_list(), name="staked"),
                         go.Bar(x=x, y=daily["payouts"].to_list(), name="paid to winners"),
                         go.Bar(x=x, y=daily["refunds"].to_list(), name="refunded")])
        fig.update_layout(title="Coins into and out of pools per day", barmode="group")
        left.plotly_chart(ui.style(fig, x="day (UTC)", y="coins per day"), key="pool_flows")
        fig = go.Figure([go.Bar(x=x, y=daily["house_burn"].to_list(), name="house fee burn"),
                         go.Bar(x=x, y=daily["dust_burn"].to_list(), name="dust burn")])
        fig.update_layout(title="House burn per day", barmode="stack")
        right.plotly_chart(ui.style(fig, x="day (UTC)", y="coins burned per day"), key="house_burn")
        if ui.more_charts(["participation", "pools table"]):
            fig = go.Figure(go.Scatter(x=part["day"].to_list(), y=part["participation"].to_list(), mode="lines+markers",
                                       name="stakers / active users"))
            fig.update_layout(title="Participation: share of the day's active users who staked")
            st.plotly_chart(ui.style(fig, x="day (UTC)", y="share of active users", percent_axis=True),
                            key="participation")
            st.subheader("Pools (newest first)")
            st.dataframe(ui.between(flows.pools(con, src.run_id), "opened"), hide_index=True, column_config={
                "opened": st.column_config.DatetimeColumn("opened (UTC)", format="YYYY-MM-DD HH:mm"),
                "staked": st.column_config.NumberColumn("coins staked", format="localized"),
                "payouts": st.column_config.NumberColumn("paid out", format="localized"),
                "house_burn": "house fee burned", "dust_burn": "dust burned"})
