"""Every page renders without an exception on a simulated run and on a production
export, and shows the metrics library's numbers."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.ipc
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import metrics as m
from dashboards import ui
from dashboards.warehouse import PROD, connect
from tests.dashboards.conftest import APP

PAGES = ["overview", "supply", "concentration", "revenue", "pools", "markets", "experiments"]


def _open(page: str, run_id: str, *, more: bool = False) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["source"] = run_id
    at.session_state["more"] = more
    at.run()
    at.switch_page(f"pages/{page}.py")
    return at.run()


def _run_id(env: dict[str, Any], which: str) -> str:
    return PROD if which == "prod" else env["run_id"]


@pytest.mark.parametrize("more", [False, True])
@pytest.mark.parametrize("which", ["sim", "prod"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(app_env, page, which, more):
    at = _open(page, _run_id(app_env, which), more=more)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.lower() == page
    assert at.caption, "every page explains itself in one line"


@pytest.mark.parametrize("which", ["sim", "prod"])
def test_overview_headlines_equal_the_metrics_library(app_env, which):
    run_id = _run_id(app_env, which)
    heads = m.headlines(connect(app_env["root"]), run_id)
    at = _open("overview", run_id)
    shown = {x.label: (x.value, x.delta) for x in at.metric}
    assert shown == {h.name: (ui.figure(h.value, h.unit),
                              None if h.change is None else ui.figure(h.change, h.unit, signed=True))
                     for h in heads}


@pytest.mark.parametrize("which", ["sim", "prod"])
def test_concentration_figures_equal_the_metrics_library(app_env, which):
    run_id = _run_id(app_env, which)
    c = m.concentration(connect(app_env["root"]), run_id)
    at = _open("concentration", run_id)
    shown = {x.label: x.value for x in at.metric}
    assert shown["Gini"] == f"{c.gini:.3f}" and shown["Holders"] == f"{c.holders:,}"
    assert shown["Nakamoto coefficient"] == f"{c.nakamoto:,}"


def test_revenue_figures_equal_the_metrics_library(app_env):
    r = m.revenue_summary(connect(app_env["root"]), PROD)
    at = _open("revenue", PROD)
    shown = {x.label: x.value for x in at.metric}
    assert (shown["Gross"], shown["Refunds"], shown["Net"]) == (ui.money(r.gross), ui.money(r.refunds),
                                                              ui.money(r.net))


def test_experiments_page_sweeps_a_tuned_economy_against_the_current_one_on_the_same_seeds(app_env):
    at = _open("experiments", app_env["run_id"])
    assert not at.number_input, "the sweep's form is built only once its expander is open"
    at.session_state["sw_open"] = True
    at.run()
    at.number_input(key="sw_users").set_value(10)
    at.number_input(key="sw_days").set_value(2)
    at.number_input(key="sw_seeds").set_value(2)
    at.number_input(key="sw_workers").set_value(1)
    at.number_input(key="knob_baseline_rewards.daily_login").set_value(7)
    at.button(key="sw_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    picked = at.multiselect(key="_compare_pick").value
    assert len(picked) == 2
    con = connect(app_env["root"])
    rewards = con.execute(
        "SELECT json_extract(parameters, '$.economy.rewards.daily_login')::INT, kind FROM runs "
        "WHERE run_id IN (?, ?) ORDER BY 1", picked).fetchall()
    assert rewards == [(2, "sweep"), (7, "sweep")]
    # each side's fan is drawn over both seeds
    assert con.execute("SELECT count(DISTINCT seed) FROM runs WHERE kind = 'sweep' AND users = 10 AND days = 2"
                       ).fetchall()[0][0] == 2
    table = at.dataframe[0].value
    assert "figure" in table.columns and any(c.endswith(": %") for c in table.columns)


def test_a_picked_source_and_date_range_stay_chosen_on_every_other_page(app_env):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert at.selectbox(key="_source_pick").value == PROD
    at.selectbox(key="_source_pick").select(app_env["run_id"]).run()
    lo, hi = at.date_input(key="_range_pick").value
    at.date_input(key="_range_pick").set_value((lo, lo)).run()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page != "experiments":
            assert at.selectbox(key="_source_pick").value == app_env["run_id"], page
        assert at.date_input(key="_range_pick").value == (lo, lo), page
        # the URL carries the view (AppTest keeps a parameter as a one-item list)
        assert at.query_params["source"] in (app_env["run_id"], [app_env["run_id"]]), page


def test_a_link_with_query_parameters_opens_the_same_view(app_env):
    con = connect(app_env["root"])
    first = con.execute("SELECT min(time)::DATE FROM entries WHERE run_id = ?", [app_env["run_id"]]).fetchall()[0][0]
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update({"source": app_env["run_id"], "from": first.isoformat(), "to": first.isoformat()})
    at.run()
    at.switch_page("pages/supply.py").run()
    assert at.selectbox(key="_source_pick").value == app_env["run_id"]
    assert at.date_input(key="_range_pick").value == (first, first)
    issued = {x.label: x.value for x in at.metric}["Issued"]
    day = m.supply_daily(con, app_env["run_id"], "COIN").filter(pl.col("day") == first)["issued"][0]
    assert issued == ui.coins(int(day))


def test_a_link_to_an_unknown_source_says_so_and_shows_the_first(app_env):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["source"] = "no-such-run"
    at.run()
    assert any("no-such-run" in w.value for w in at.warning)
    assert at.selectbox(key="_source_pick").value == PROD


def test_pools_page_shows_the_resolved_pools_house_fee_and_dust(app_env):
    at = _open("pools", PROD)
    shown = {x.label: x.value for x in at.metric}
    assert (shown["Coins staked"], shown["House fee burned"], shown["Dust burned"]) == ("351", "10", "1")


def test_markets_opens_on_the_busiest_coin_and_flags_the_ring(app_env):
    run_id = app_env["pump_run"]
    busiest = m.market_summary(connect(app_env["root"]), run_id)["symbol"][0]
    at = _open("markets", run_id, more=True)
    assert at.selectbox(key="symbol").value == busiest
    assert any("adversarial" in w.value for w in at.warning)
    leaders = at.dataframe[0].value  # first: the coins table is on demand, below it
    assert leaders["flag"].str.startswith("adversarial: ring").any()
    every = at.dataframe[-1].value
    assert not every["what happened"].str.startswith("{").any()


def _vega(at: AppTest) -> list[dict[str, Any]]:
    """The Vega-Lite charts drawn: each spec, with its datasets (Arrow, named in the
    spec's layers) read back as ``_data``: name -> DataFrame."""
    specs = []
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        spec["_data"] = {d.name: pl.from_arrow(pa.ipc.open_stream(d.data.data).read_all()) for d in c.proto.datasets}
        specs.append(spec)
    return specs


def _chart(at: AppTest, title: str) -> dict[str, Any]:
    return next(s for s in _vega(at) if s["title"] == title)


def _charts(at: AppTest) -> list[str]:
    """Every chart drawn (Vega-Lite, then Plotly), by title."""
    return [s["title"] for s in _vega(at)] + [json.loads(c.proto.spec)["layout"]["title"]["text"]
                                              for c in at.get("plotly_chart")]


def _views(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A spec's single views (its layers, nested or not)."""
    if "layer" in spec:
        return [v for layer in spec["layer"] for v in _views(layer)]
    return [spec]


def _layer_data(spec: dict[str, Any], view: dict[str, Any]) -> pl.DataFrame:
    return spec["_data"][(view.get("data") or spec["data"])["name"]]


def test_further_charts_are_drawn_only_on_demand_and_stay_on_across_pages(app_env):
    """A page opens with its main charts (a new tab's wait is mostly the browser drawing
    charts); a toggle draws the others, and keeps doing so on every page."""
    at = _open("overview", app_env["run_id"])
    assert _charts(at) == ["COIN supply (end of day)", "Active and new users"]
    assert "issued and burned by kind" in at.toggle(key="_more_pick").label
    at.toggle(key="_more_pick").set_value(True).run()
    assert not at.exception
    assert _charts(at)[2:] == ["COIN issued and burned by kind", "Retention by cohort (blank: not reached yet)"]
    at.switch_page("pages/supply.py").run()
    assert at.toggle(key="_more_pick").value is True
    assert len(_charts(at)) == 4 and at.dataframe, "the sankey, its table and velocity too"
    at.toggle(key="_more_pick").set_value(False).run()
    assert len(_charts(at)) == 2 and not at.dataframe


def test_first_paint_has_no_plotly_chart_only_the_on_demand_sankey_is_one(app_env):
    """Plotly.js costs a new tab ~0.5 s more than Vega-Lite: no page opens with it."""
    for page in PAGES:
        at = _open(page, app_env["pools_run"] if page == "pools" else app_env["run_id"])
        assert not at.get("plotly_chart"), page
    at = _open("supply", app_env["run_id"], more=True)
    assert [json.loads(c.proto.spec)["data"][0]["type"] for c in at.get("plotly_chart")] == ["sankey"]


def test_a_page_with_charts_preloads_the_chart_code_and_one_without_does_not(app_env):
    def preloads(at: AppTest) -> set[str]:
        return {name for h in at.get("html") for name in ("ArrowVegaLiteChart.", "PlotlyChart.", "DataFrame.")
                if name in h.proto.body}

    assert preloads(_open("overview", app_env["run_id"])) == {"ArrowVegaLiteChart."}, "not Plotly.js, no table"
    assert preloads(_open("markets", app_env["pump_run"])) == {"ArrowVegaLiteChart.", "DataFrame."}, "traders"
    assert not preloads(_open("pools", app_env["run_id"])), "a baseline run has no pools: nothing to draw"
    assert preloads(_open("pools", app_env["pools_run"])) == {"ArrowVegaLiteChart."}


def test_charts_carry_their_units_and_the_supply_goes_log_on_the_toggle(app_env):
    run_id = app_env["run_id"]
    at = _open("overview", run_id)
    supply = _chart(at, "COIN supply (end of day)")
    assert supply["encoding"]["x"]["title"] == "day (UTC)" and "utc" in supply["encoding"]["x"]["timeUnit"]
    assert supply["encoding"]["y"]["title"] == "COIN in circulation"
    assert "scale" not in supply["encoding"]["y"]
    want = m.supply_daily(connect(app_env["root"]), run_id, "COIN")
    assert _layer_data(supply, supply)["supply"].to_list() == want["supply"].to_list()
    active = _chart(at, "Active and new users")
    assert active["encoding"]["y"]["title"] == "users per day"
    assert active["encoding"]["color"]["scale"]["domain"] == ["active users", "new users"]
    at.toggle(key="overview_log").set_value(True)
    at.toggle(key="_more_pick").set_value(True).run()
    supply = _chart(at, "COIN supply (end of day)")
    assert supply["encoding"]["y"]["scale"]["type"] == "log"
    assert (_layer_data(supply, supply)["supply"] > 0).all(), "no zero on a log axis"
    kinds = _chart(at, "COIN issued and burned by kind")
    assert kinds["encoding"]["y"] == kinds["encoding"]["y"] | {"title": "coins per day (log)", "scale": {"type": "log"}}
    at.toggle(key="overview_log").set_value(False).run()
    kinds = _chart(at, "COIN issued and burned by kind")
    assert kinds["mark"]["type"] == "bar" and kinds["encoding"]["y"]["title"] == "coins per day (issued +, burned -)"
    data = _layer_data(kinds, kinds)
    assert (data.filter(pl.col("direction") == "issued")["coins"] > 0).all()
    assert (data.filter(pl.col("direction") == "burned")["coins"] < 0).all(), "burns below zero"


def test_revenue_is_drawn_in_dollars_and_concentration_in_percent(app_env):
    at = _open("revenue", PROD, more=True)
    daily = _chart(at, "Revenue per day")
    assert {v["encoding"]["y"]["axis"]["format"] for v in _views(daily)} == {"$,.2f"}
    assert {v["encoding"]["y"]["title"] for v in _views(daily)} == {"dollars per day (refunds below zero)"}
    bars = _layer_data(daily, daily["layer"][0])
    cents = m.revenue_daily(connect(app_env["root"]), PROD)
    assert sorted(bars.filter(pl.col("series") == "gross")["dollars"].to_list()) == sorted(
        (cents["gross"] / 100).to_list())
    assert (bars.filter(pl.col("series") == "refunds")["dollars"] <= 0).all()
    at.toggle(key="revenue_log").set_value(True).run()
    daily = _chart(at, "Revenue per day")
    assert {v["encoding"]["y"]["scale"]["type"] for v in _views(daily)} == {"log"}
    assert {v["encoding"]["y"]["title"] for v in _views(daily)} == {"dollars per day (log)"}
    assert (_layer_data(daily, daily["layer"][0])["dollars"] > 0).all(), "refunds drawn upward, no zero"
    package = _chart(at, "Net revenue by package")
    assert package["encoding"]["y"]["axis"]["format"] == "$,.2f"
    assert package["encoding"]["y"]["title"] == "net revenue (dollars)"
    at = _open("concentration", PROD)
    curve = _chart(at, "Lorenz curve")
    for view in _views(curve):
        assert view["encoding"]["x"]["axis"]["format"] == ".0%"
        assert view["encoding"]["x"]["title"] == "share of holders (poorest first)"
        assert view["encoding"]["y"]["axis"]["format"] == ".1%" and view["encoding"]["y"]["title"] == "share of coins"
    gini = _chart(at, "Gini over time")
    assert gini["encoding"]["y"]["scale"]["domain"] == [0, 1]


def test_retention_cells_a_cohort_has_not_reached_stay_blank(app_env):
    at = _open("overview", app_env["run_id"], more=True)
    heat = _chart(at, "Retention by cohort (blank: not reached yet)")
    assert heat["encoding"]["color"]["scale"]["domain"] == [0, 1]
    assert heat["encoding"]["color"]["legend"]["format"] == ".0%"
    cells = _layer_data(heat, heat)
    cohorts = m.retention(connect(app_env["root"]), app_env["run_id"], 30)
    last = max(c + timedelta(days=o) for c, o in zip(cohorts["cohort"], cohorts["offset"], strict=True))
    drawn = {(c, o) for c, o in zip(cells["cohort"].to_list(), cells["offset"].to_list(), strict=True)}
    firsts = set(cohorts["cohort"].to_list())
    assert drawn == {(c, o) for c in firsts for o in range(31) if c + timedelta(days=o) <= last}, \
        "a cell per day each cohort has reached, none after"
    assert len(drawn) < len(firsts) * len(set(cohorts["offset"].to_list())), "the unreached cells are blank"
    rate = dict(zip(zip(cohorts["cohort"].to_list(), cohorts["offset"].to_list(), strict=True),
                    cohorts["rate"].to_list(), strict=True))
    assert all(r == rate.get((c, o), 0.0) for c, o, r in cells.select("cohort", "offset", "rate").iter_rows())


def test_markets_draws_the_alerts_on_the_candles_in_words(app_env):
    run_id = app_env["pump_run"]
    at = _open("markets", run_id)
    chart = next(s for s in _vega(at) if "markers: defenses" in s["title"])
    symbol = chart["title"].split(" ")[0]
    views = _views(chart)
    assert [v["mark"]["type"] for v in views] == ["bar", "rule", "bar", "point"], "volume, wicks, bodies, alerts"
    assert chart["usermeta"]["embedOptions"]["renderer"] == "canvas", "many marks: faster on a canvas"
    assert {v["encoding"]["y"]["title"] for v in views if "title" in v["encoding"]["y"]} == {
        "price (COIN per coin)", "coins traded"}
    candles = _layer_data(chart, views[1])
    assert {"open", "high", "low", "close", "volume"} <= set(candles.columns) and candles.height
    marks = _layer_data(chart, views[3])
    want = m.alerts(connect(app_env["root"]), run_id, 5_000).filter(pl.col("symbol") == symbol)
    assert marks.height == want.height > 0
    assert set(marks["kind"]) <= {"defense alert", "detector alert"}
    assert not marks["words"].str.contains("{", literal=True).any(), "said in words, not as JSON"
    # each just above the high of the candle it fell in
    tops = marks.join_asof(candles.select("start", "high").sort("start"), left_on="time", right_on="start")
    assert (tops["at"] - tops["high"] * 1.02).abs().max() < 1e-9


def test_experiments_compares_production_with_a_run_in_dollars_and_percent(app_env):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["compare"] = [PROD, app_env["run_id"]]
    at.run()
    at.switch_page("pages/experiments.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    revenue = table[table["figure"] == "Net revenue"].iloc[0]
    net = m.revenue_summary(connect(app_env["root"]), PROD).net
    assert revenue[table.columns[2]] == pytest.approx(net / 100)
    assert revenue["unit"] == "dollars", "the unit says what the column holds"
