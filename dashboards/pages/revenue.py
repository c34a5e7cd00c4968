"""Revenue: coin-package sales, refunds, paying users and conversion, in dollars."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from dashboards import charts, ui
from dashboards import metrics as m

st.title("Revenue")
ui.preload_charts()  # first: the browser loads the chart code while this script runs
ui.explain("Money from coin packages, in dollars: gross sales, refunds and net per day, which packages sell, "
           "the bonus coins given away, revenue per paying user and the share of users who pay.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    lo, hi = ui.span()
    r = m.revenue_summary(con, src.run_id, lo, hi)
    cols = st.columns(6)
    cols[0].metric("Gross", ui.money(r.gross))
    cols[1].metric("Refunds", ui.money(r.refunds))
    cols[2].metric("Net", ui.money(r.net))
    cols[3].metric("ARPPU", ui.money(r.arppu_cents), help="net revenue per paying user")
    cols[4].metric("Paying conversion", ui.pct(r.conversion), help=f"{r.paying_users} of {r.users} users")
    cols[5].metric("Bonus coins given", ui.coins(r.bonus_coins))
    log = ui.log_toggle("revenue_log")
    daily = ui.between(m.revenue_daily(con, src.run_id))
    st.altair_chart(charts.revenue(daily, "Revenue per day", log=log), key="daily")
    if ui.more_charts(["net revenue by package", "packages table"]):
        pk = m.revenue_by_package(con, src.run_id, lo, hi)
        dollars = pk.with_columns([(pl.col(c) / 100).alias(c.replace("_cents", "")) for c in
                                   ("gross_cents", "refunded_cents", "net_cents")]).drop(
            "gross_cents", "refunded_cents", "net_cents")
        left, right = st.columns(2)
        left.altair_chart(alt.Chart(dollars, title="Net revenue by package").mark_bar().encode(
            x=alt.X("package_id:N", title="package", sort=None),
            y=charts.yaxis("net", "net revenue (dollars)", money=True),
            tooltip=[alt.Tooltip("package_id:N", title="package"),
                     alt.Tooltip("net:Q", title="net revenue", format=charts.MONEY)]), key="packages")
        right.dataframe(dollars, hide_index=True, column_config={
            "package_id": "package", "sales": "sales",
            **{c: st.column_config.NumberColumn(c + " ($)", format="dollar") for c in ("gross", "refunded", "net")},
            "base_coins": "coins sold", "bonus_coins": "bonus coins"})
