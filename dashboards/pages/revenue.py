"""Revenue: coin-package sales, refunds, paying users and conversion."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import metrics as m
from dashboards import ui

st.title("Revenue")
ui.explain("Money from coin packages: gross sales, refunds and net per day, which packages sell, "
           "the bonus coins given away, revenue per paying user and the share of users who pay.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    r = m.revenue_summary(con, src.run_id)
    cols = st.columns(6)
    cols[0].metric("Gross", ui.money(r.gross))
    cols[1].metric("Refunds", ui.money(r.refunds))
    cols[2].metric("Net", ui.money(r.net))
    cols[3].metric("ARPPU", ui.money(r.arppu_cents))
    cols[4].metric("Paying conversion", f"{r.conversion:.1%}", help=f"{r.paying_users} of {r.users} users")
    cols[5].metric("Bonus coins given", ui.coins(r.bonus_coins))
    daily = m.revenue_daily(con, src.run_id)
    fig = go.Figure([go.Bar(x=daily["day"].to_list(), y=(daily["gross"] / 100).to_list(), name="gross $"),
                     go.Bar(x=daily["day"].to_list(), y=(-daily["refunds"] / 100).to_list(), name="refunds $"),
                     go.Scatter(x=daily["day"].to_list(), y=(daily["net"] / 100).to_list(), name="net $")])
    fig.update_layout(title="Revenue per day (USD)", barmode="relative")
    st.plotly_chart(fig, key="daily")
    pk = m.revenue_by_package(con, src.run_id)
    left, right = st.columns(2)
    left.plotly_chart(px.bar(pk, x="package_id", y="net_cents", title="Net revenue by package (cents)"),
                      key="packages")
    right.dataframe(pk, hide_index=True)
