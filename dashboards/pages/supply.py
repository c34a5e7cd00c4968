"""Supply: issuance against burn per day, net flow, total supply and velocity."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import metrics as m
from dashboards import ui

st.title("Supply")
ui.explain("Coins issued (minted) against coins burned or returned to the mint each day, the net flow, "
           "the total supply it adds up to, and how often coins change hands (velocity).")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    asset = ui.pick_asset(con, src.run_id, "supply_asset")
    sup = m.supply_daily(con, src.run_id, asset)
    fig = go.Figure([go.Bar(x=sup["day"].to_list(), y=sup["issued"].to_list(), name="issued"),
                     go.Bar(x=sup["day"].to_list(), y=(-sup["burned"] - sup["unminted"]).to_list(),
                            name="burned + unminted"),
                     go.Scatter(x=sup["day"].to_list(), y=sup["net_flow"].to_list(), name="net flow")])
    fig.update_layout(title=f"{asset}: issuance vs burn", barmode="relative")
    st.plotly_chart(fig, key="flows")
    left, right = st.columns(2)
    left.plotly_chart(px.line(sup, x="day", y="supply", title=f"{asset} total supply"), key="supply")
    vel = m.velocity_daily(con, src.run_id, asset)
    right.plotly_chart(px.line(vel, x="day", y="velocity", title="Velocity (volume / supply)"), key="velocity")
    st.dataframe(sup, hide_index=True)
