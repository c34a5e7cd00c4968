"""Every page renders without an exception on a simulated run and on a production
export, and shows the metrics library's numbers."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import metrics as m
from dashboards import ui
from dashboards.warehouse import PROD, connect
from tests.dashboards.conftest import APP

PAGES = ["overview", "supply", "concentration", "revenue", "pools", "markets", "experiments"]


def _open(page: str, run_id: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["source"] = run_id
    at.run()
    at.switch_page(f"pages/{page}.py")
    return at.run()


def _run_id(env: dict[str, Any], which: str) -> str:
    return PROD if which == "prod" else env["run_id"]


@pytest.mark.parametrize("which", ["sim", "prod"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(app_env, page, which):
    at = _open(page, _run_id(app_env, which))
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
