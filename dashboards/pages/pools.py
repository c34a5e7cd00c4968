"""Pools: parimutuel pools: stakes, participation, payouts and the house burn on its own."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, flows, ui
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
        left.altair_chart(charts.bars(daily, {"staked": "staked", "payouts": "paid to winners", "refunds": "refunded"},
                                      title="Coins into and out of pools per day", y_title="coins per day"),
                          key="pool_flows")
        right.altair_chart(charts.bars(daily, {"house_burn": "house fee burn", "dust_burn": "dust burn"},
                                       title="House burn per day", y_title="coins burned per day", grouped=False),
                           key="house_burn")
        if ui.more_charts(["participation", "pools table"]):
            st.altair_chart(charts.line(part, y="participation", points=True, percent=True,
                                        title="Participation: share of the day's active users who staked",
                                        y_title="share of active users"), key="participation")
            st.subheader("Pools (newest first)")
            st.dataframe(ui.between(flows.pools(con, src.run_id), "opened"), hide_index=True, column_config={
                "opened": st.column_config.DatetimeColumn("opened (UTC)", format="YYYY-MM-DD HH:mm"),
                "staked": st.column_config.NumberColumn("coins staked", format="localized"),
                "payouts": st.column_config.NumberColumn("paid out", format="localized"),
                "house_burn": "house fee burned", "dust_burn": "dust burned"})
