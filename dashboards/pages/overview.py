"""Overview: the headline numbers of the latest day, with the change from the day before."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import metrics as m
from dashboards import ui

st.title("Overview")
ui.explain("Headline figures for the latest day in the chosen source (production or a simulated run), "
           "with the change from the day before.")
con = ui.connection()
src = ui.pick_source(con)
if src is not None:
    heads = m.headlines(con, src.run_id)
    if heads:
        st.subheader(f"Latest day: {heads[0].day}")
        for col, h in zip(st.columns(len(heads)), heads, strict=True):
            col.metric(h.name, ui.figure(h.value, h.unit),
                       None if h.change is None else ui.figure(h.change, h.unit, signed=True))
    left, right = st.columns(2)
    sup = m.supply_daily(con, src.run_id, "COIN")
    left.plotly_chart(px.line(sup, x="day", y="supply", title="COIN supply (end of day)"), key="supply")
    act = m.daily_active(con, src.run_id)
    right.plotly_chart(px.bar(act, x="day", y=["active", "new"], barmode="group", title="Active and new users"),
                       key="active")
    ret = m.retention_summary(con, src.run_id)
    st.write("Retention: " + ", ".join(f"day {k}: {'n/a' if v is None else f'{v:.0%}'}" for k, v in ret.items()))
    cohorts = m.retention(con, src.run_id, 30)
    st.plotly_chart(px.density_heatmap(cohorts, x="offset", y="cohort", z="rate", histfunc="avg",
                                       title="Retention by cohort (share active N days after the first day)"),
                    key="retention")
