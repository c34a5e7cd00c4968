"""Overview: the headline numbers of the latest day, with the change from the day before."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, flows, ui
from dashboards import metrics as m

st.title("Overview")
ui.preload_charts()  # first: the browser loads the chart code while this script runs
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
    left.altair_chart(charts.line(sup, y="supply", title="COIN supply (end of day)", y_title="COIN in circulation",
                                  log=log), key="supply")
    act = ui.between(m.daily_active(con, src.run_id))
    right.altair_chart(charts.bars(act, {"active": "active users", "new": "new users"}, title="Active and new users",
                                   y_title="users per day"), key="active")
    ret = m.retention_summary(con, src.run_id)
    st.markdown("**Retention** (share of a cohort active N days after its first day, over every cohort old "
                "enough): " + ", ".join(f"day {k}: {'n/a' if v is None else ui.pct(v)}" for k, v in ret.items()))
    if ui.more_charts(["COIN issued and burned by kind", "retention by cohort"]):
        left, right = st.columns(2)
        kinds = ui.between(flows.by_kind(con, src.run_id, "COIN"))
        left.altair_chart(charts.flow_by_kind(kinds, "COIN issued and burned by kind", log=log), key="kinds")
        cohorts = m.retention(con, src.run_id, 30)
        if lo or hi:
            cohorts = ui.between(cohorts, "cohort")
        if cohorts.height:
            right.altair_chart(charts.retention(cohorts, "Retention by cohort (blank: not reached yet)"),
                               key="retention")
