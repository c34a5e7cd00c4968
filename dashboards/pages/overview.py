"""Overview: the headline numbers of the latest day, with the change from the day before."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboards import charts, flows, ui
from dashboards import metrics as m

st.title("Overview")
ui.preload_charts()  # first: the browser loads Plotly.js while this script runs
ui.explain("Headline figures for the last day of the date range in the chosen source (production or a "
           "simulated run), with the change from the day before; supply, issuance by kind, activity and retention.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    lo, hi = ui.span()
    heads = m.headlines(con, src.run_id, hi)
    if heads:
        st.subheader(f"Latest day: {heads[0].day}")
        for col, h in zip(st.columns(len(heads)), heads, strict=True):
            col.metric(h.name, ui.figure(h.value, h.unit),
                       None if h.change is None else ui.figure(h.change, h.unit, signed=True))
    log = ui.log_toggle("overview_log")
    left, right = st.columns(2)
    sup = ui.between(m.supply_daily(con, src.run_id, "COIN"))
    # Plain graph objects, not plotly.express: px takes ~0.1 s a chart to build, on the
    # server, in a first view's critical path.
    fig = go.Figure(go.Scatter(x=sup["day"].to_list(), y=sup["supply"].to_list(), mode="lines", name="supply"))
    fig.update_layout(title="COIN supply (end of day)")
    left.plotly_chart(ui.style(fig, x="day (UTC)", y="COIN in circulation", log=log), key="supply")
    act = ui.between(m.daily_active(con, src.run_id))
    days = act["day"].to_list()
    fig = go.Figure([go.Bar(x=days, y=act["active"].to_list(), name="active users"),
                     go.Bar(x=days, y=act["new"].to_list(), name="new users")])
    fig.update_layout(title="Active and new users", barmode="group")
    right.plotly_chart(ui.style(fig, x="day (UTC)", y="users per day"), key="active")
    ret = m.retention_summary(con, src.run_id)
    st.markdown("**Retention** (share of a cohort active N days after its first day, over every cohort old "
                "enough): " + ", ".join(f"day {k}: {'n/a' if v is None else ui.pct(v)}" for k, v in ret.items()))
    if ui.more_charts(["COIN issued and burned by kind", "retention by cohort"]):
        left, right = st.columns(2)
        kinds = ui.between(flows.by_kind(con, src.run_id, "COIN"))
        left.plotly_chart(charts.flow_by_kind(kinds, "COIN issued and burned by kind", log=log), key="kinds")
        cohorts = m.retention(con, src.run_id, 30)
        if lo or hi:
            cohorts = ui.between(cohorts, "cohort")
        if cohorts.height:
            grid = cohorts.pivot(on="offset", index="cohort", values="rate", sort_columns=True).sort("cohort")
            offsets = [c for c in grid.columns if c != "cohort"]
            # Cells a cohort has not reached yet stay blank (None), not "0% retained".
            heat = go.Heatmap(z=grid.select(offsets).to_numpy().tolist(), x=[int(c) for c in offsets],
                              y=[str(d) for d in grid["cohort"].to_list()], colorscale="Blues", zmin=0, zmax=1,
                              colorbar={"title": "retained", "tickformat": ".0%"},
                              hovertemplate="cohort %{y}, day %{x}: %{z:.1%}<extra></extra>")
            fig = go.Figure(heat)
            fig.update_layout(title="Retention by cohort (blank: not reached yet)")
            right.plotly_chart(ui.style(fig, x="days since the first active day", y="cohort (first active day)"),
                               key="retention")
