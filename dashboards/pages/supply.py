"""Supply: issuance and burn by kind per day, the coin flow, total supply and velocity."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, flows, ui
from dashboards import metrics as m

st.title("Supply")
ui.preload_charts()  # first: the browser loads the chart code while this script runs
ui.explain("Coins issued (rewards by type, purchased, purchase bonuses, admin grants) against coins burned "
           "(house fee, dust, redeem, spend burns) each day, where they flowed, the total supply it adds up to, "
           "and how often coins change hands (velocity).")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    left, right = st.columns([1, 3])
    asset = left.selectbox("Asset", [a for a in ui.assets(con, src.run_id)], key="supply_asset")
    log = right.toggle("Log scale", key="supply_log",
                       help="The first day's grants and purchases can dwarf the rest: a log axis shows every day.")
    kinds = ui.between(flows.by_kind(con, src.run_id, asset))
    issued = int(kinds.filter(pl.col("direction") == "issued")["amount"].sum())
    burned = int(kinds.filter(pl.col("direction") == "burned")["amount"].sum())
    unminted = int(kinds.filter(pl.col("direction") == "unminted")["amount"].sum())
    cols = st.columns(4)
    cols[0].metric("Issued", ui.coins(issued), help=f"{asset} minted over {ui.period()}")
    cols[1].metric("Burned", ui.coins(burned))
    cols[2].metric("Returned to the mint", ui.coins(unminted), help="refund clawbacks and negative adjustments")
    cols[3].metric("Net change in supply", ui.coins(issued - burned - unminted))
    st.altair_chart(charts.flow_by_kind(kinds, f"{asset}: issuance and burn by kind", log=log), key="flows")
    sup = ui.between(m.supply_daily(con, src.run_id, asset))
    st.altair_chart(charts.line(sup, y="supply", title=f"{asset} total supply (end of day)",
                                y_title=f"{asset} in circulation", log=log), key="supply")
    if ui.more_charts(["coin flow (sankey) with its table", "velocity"]):
        by = (kinds.group_by("direction", "kind").agg(pl.col("amount").sum())
              .sort("direction", "amount", descending=[False, True]))
        total = {"issued": issued, "burned": burned, "unminted": unminted}
        by = by.with_columns((pl.col("amount") / pl.col("direction").replace_strict(total, default=None))
                             .alias("share"))
        left, right = st.columns([3, 2])
        left.plotly_chart(charts.sankey(kinds, f"{asset} flow over {ui.period()}: sources, holders, sinks"),
                          key="sankey")
        right.dataframe(by, hide_index=True, column_config={
            "direction": "flow", "kind": "kind", "amount": st.column_config.NumberColumn("coins", format="localized"),
            "share": st.column_config.ProgressColumn("share of the flow", format="percent", min_value=0,
                                                     max_value=1)})
        vel = ui.between(m.velocity_daily(con, src.run_id, asset))
        st.altair_chart(charts.line(vel, y="velocity", title="Velocity (coins changing hands / supply, per day)",
                                    y_title="turns of the supply per day"), key="velocity")
