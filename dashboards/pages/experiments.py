"""Scenarios: compare simulated runs side by side, or tune the economy and run a new one."""

from __future__ import annotations

import json

import plotly.express as px
import polars as pl
import streamlit as st

from dashboards import metrics as m
from dashboards import scenarios as sc
from dashboards import ui

st.title("Experiments")
ui.explain("Change economy parameters, simulate, and compare the new run with the unchanged baseline "
           "(or pick any runs already in the warehouse) side by side.")

with st.expander("Run a simulation", expanded=False):
    names = sc.scenario_names()
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Scenario", names, index=names.index("baseline") if "baseline" in names else 0, key="sc_name")
    users = c2.number_input("Users", 10, 100_000, 300, step=50, key="sc_users")
    days = c3.number_input("Days", 1, 365, 14, key="sc_days")
    seed = c4.number_input("Seed", 0, 10_000, 1, key="sc_seed")
    defaults = sc.defaults(name)
    values: dict[str, object] = {}
    cols = st.columns(len(sc.KNOBS))
    for col, knob in zip(cols, sc.KNOBS, strict=True):
        if knob.kind == "bool":
            values[knob.key] = col.checkbox(knob.label, bool(defaults[knob.key]), key=f"knob_{knob.key}",
                                            help=knob.help)
        else:
            values[knob.key] = int(col.number_input(knob.label, 0, 1_000_000, int(defaults[knob.key]),
                                                    key=f"knob_{knob.key}", help=knob.help))
    if st.button("Run", type="primary", key="sc_run"):
        bar = st.progress(0.0, text="simulating...")
        changed = sc.changes(defaults, values)

        def show(done: float, text: str) -> None:
            bar.progress(done, text=text)

        ids = sc.run_with_baseline(ui.warehouse_root(), name, changed, int(users), int(days), int(seed),
                                   on_progress=show)
        bar.progress(1.0, text="done")
        st.session_state["compare"] = ids
        st.success("Simulated: " + " and ".join(ids))

con = ui.connection()
runs = sc.runs(con)
if not runs.height:
    st.info("No simulated runs yet: run one above or with `coinlab sim run baseline`.")
else:
    ids = runs["run_id"].to_list()
    chosen = [r for r in st.session_state.get("compare", []) if r in ids] or ids[:2]
    st.session_state["compare"] = chosen
    picked = st.multiselect("Runs to compare", ids, key="compare")
    if picked:
        st.dataframe(sc.compare(runs, picked), hide_index=True)
        sup = pl.concat([m.supply_daily(con, r, "COIN").with_columns(pl.lit(r).alias("run")) for r in picked])
        rev = pl.concat([m.revenue_daily(con, r).with_columns(pl.lit(r).alias("run")) for r in picked])
        left, right = st.columns(2)
        left.plotly_chart(px.line(sup, x="day", y="supply", color="run", title="COIN supply"), key="cmp_supply")
        right.plotly_chart(px.line(rev, x="day", y="net", color="run", title="Net revenue per day (cents)"),
                           key="cmp_revenue")
        with st.expander("Parameters of the chosen runs"):
            for r in picked:
                st.code(json.dumps(json.loads(runs.filter(pl.col("run_id") == r)["parameters"][0] or "{}")
                                   .get("overrides", {}), indent=1), language="json")
