"""Experiments: compare any sources (production, forecasts, sweeps, runs), with each
source's spread across seeds, run a sweep of a changed economy from here, and read a
sweep's frontier."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import charts, ui
from dashboards import scenarios as sc
from dashboards.warehouse import sources

st.title("Experiments")
ui.preload_charts(table=True)  # first: the browser loads the chart and table code while this runs
ui.explain("Compare production, forecasts and simulated runs side by side: figures with their difference and %, "
           "and fan charts (median and 90% band across seeds). Change any economy knob and run it against the "
           "current economy on the same seeds.")

# Built only while open (a rerun on toggling it): the form is a widget per economy knob,
# dozens of them, which a first view would otherwise draw hidden.
form = st.expander("Run a sweep: change the economy, simulate it against the current one", key="sw_open",
                    on_change="rerun")
if form.open:
    with form:
        names = sc.scenario_names()
        c = st.columns(5)
        name = c[0].selectbox("Scenario", names, index=names.index("baseline") if "baseline" in names else 0,
                              key="sw_name")
        users = int(c[1].number_input("Users", 10, 20_000, 300, step=50, key="sw_users"))
        days = int(c[2].number_input("Days", 1, 365, 14, key="sw_days"))
        seeds = int(c[3].number_input("Seeds", 1, 50, 3, key="sw_seeds",
                                      help="Both economies run on the same seeds (common random numbers)."))
        workers = int(c[4].number_input("Workers", 1, 8, 2, key="sw_workers", help="processes running seeds at once"))
        knobs = sc.knobs(name)
        values: dict[str, object] = {}
        tabs = st.tabs([title for title, _ in sc.SECTIONS])
        for tab, (title, _) in zip(tabs, sc.SECTIONS, strict=True):
            cols = tab.columns(4)
            for i, knob in enumerate(k for k in knobs if k.section == title):
                col, key = cols[i % 4], f"knob_{name}_{knob.key}"
                if knob.kind == "bool":
                    values[knob.key] = col.checkbox(knob.label, bool(knob.default), key=key)
                elif knob.kind == "int":
                    values[knob.key] = int(col.number_input(knob.label, 0, None, int(knob.default), key=key))
                else:
                    values[knob.key] = col.text_input(knob.label, str(knob.default), key=key)
        changed = sc.changes({k.key: k.default for k in knobs}, values)
        st.caption("Changes: " + (", ".join(changed) if changed else "none (runs the current economy only)"))
        if st.button("Run sweep", type="primary", key="sw_run"):
            bar = st.progress(0.0, text="simulating...")

            def show(done: int, total: int) -> None:
                bar.progress(done / total, text=f"{done} of {total} runs done")

            try:
                ran = sc.run_sweep(ui.warehouse_root(), name, changed, users, days, seeds, workers=workers,
                                   on_progress=show)
            except ValueError as err:  # a bad knob value (ConfigError, ExperimentError): nothing was run
                st.error(f"Not run: {err}")
            else:
                bar.progress(1.0, text="done")
                st.session_state["compare"] = [ids[0] for ids in ran.values()]
                st.success(f"Simulated {sum(len(v) for v in ran.values())} runs: " + ", ".join(ran))

con = ui.connection()
found = sources(con)
# By default: the source picked on the other pages, against production (or the first other source).
current = st.session_state.get("source")
others = [s.run_id for s in found if s.run_id != current]
chosen = ui.pick_sources(con, default=([current] if current else []) + others[:1])
if not chosen:
    st.info("Pick sources to compare, or run a sweep above.")
else:
    lo, hi = st.session_state.get("from"), st.session_state.get("to")
    families = {s.run_id: [f.run_id for f in found if f.family == s.family] or [s.run_id] for s in chosen}
    label = {s.run_id: f"{s.group}: {s.name}" for s in chosen}
    if len(set(label.values())) < len(label):
        label = {s.run_id: f"{s.group}: {s.name} ({s.run_id})" for s in chosen}
    per = {label[r]: [sc.figures(con, x, lo, hi) for x in ids] for r, ids in families.items()}
    table = sc.compare(per)
    counts = ", ".join(f"{label[r]}: {len(ids)}" for r, ids in families.items())
    st.subheader("Figures")
    st.caption(f"Over {ui.period()}; each source is the mean over its seeds ({counts}); difference and % are "
               f"against the first source. Money in dollars.")
    money = table["unit"] == "cents"
    shown = table.with_columns([pl.when(money).then(pl.col(c) / 100).otherwise(pl.col(c)).alias(c)
                                for c in table.columns[2:] if not c.endswith(": %")]
                               + [pl.when(money).then(pl.lit("dollars")).otherwise(pl.col("unit")).alias("unit")])
    st.dataframe(shown, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="percent" if c.endswith(": %") else "localized")
        for c in shown.columns[2:]})
    daily = sc.family_daily(con, [x for ids in families.values() for x in ids], lo, hi)
    owner = {x: label[r] for r, ids in families.items() for x in ids}
    daily = daily.with_columns(pl.col("run_id").replace_strict(owner).alias("source"))
    fans = (("supply", "COIN supply", "coins in circulation"), ("active", "Active users", "users active per day"),
            ("net_dollars", "Net revenue", "dollars per day"))
    # The supply fan first; the other two on demand, below it. Full width: a source's label
    # is long, and in a third of the page the legend cut it off.
    more = ui.more_charts([title for _y, title, _t in fans[1:]])
    for y, title, y_title in fans[:3 if more else 1]:
        st.altair_chart(charts.fan(daily, x="day_of_run", y=y, by="source", title=title, y_title=y_title,
                                   money=y == "net_dollars"), key=f"fan_{y}")

st.subheader("Sweeps")
sweep_ids = sc.sweeps(con)
if not sweep_ids:
    st.caption("No sweep in the warehouse yet: run one above, or `coinlab sim sweep` / `coinlab sim frontier`.")
else:
    sweep = st.selectbox("Sweep", sweep_ids, key="sweep_pick")
    results = sc.sweep_results(con, sweep)
    metrics = sorted({m for r in results for m in r["metrics"]})
    variants = list(dict.fromkeys(r["variant"] for r in results))
    control = "current" if "current" in variants else variants[0]
    from sim.experiment import frontier_points, summarize_experiment

    metric = st.selectbox("Metric", metrics, index=metrics.index("circulating") if "circulating" in metrics else 0,
                          key="sweep_metric")
    rows = summarize_experiment(results, [metric], control)
    st.dataframe(pl.DataFrame({
        "variant": [r.variant for r in rows],
        "mean": [r.value.mean for r in rows],
        "95% low": [r.value.low for r in rows], "95% high": [r.value.high for r in rows],
        f"difference from {control}": [None if r.diff is None else r.diff.mean for r in rows],
        "difference 95% low": [None if r.diff is None else r.diff.low for r in rows],
        "difference 95% high": [None if r.diff is None else r.diff.high for r in rows],
        "seeds": [r.value.n for r in rows]}, strict=False), hide_index=True)
    if {"victims_losses", "honest_volume_coin"} <= set(metrics) and len(variants) > 1:
        pts = frontier_points(results, control)
        points = pl.DataFrame({"variant": [p.variant for p in pts], "losses": [p.losses.mean for p in pts],
                               "honest": [p.honest.mean for p in pts], "on_frontier": [p.on_frontier for p in pts]})
        st.altair_chart(charts.frontier(points, "Defense frontier: victims' realised losses vs honest volume kept",
                                        x_title="victims' realised losses (COIN, mean over seeds)",
                                        y_title="honest trading volume (COIN, mean over seeds)"), key="frontier")
