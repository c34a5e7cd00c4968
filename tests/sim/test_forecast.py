"""Back-tests and forecasts from a warehouse source's state (sim/forecast.py) and their commands."""

from __future__ import annotations

import functools
import json
import math

import duckdb
import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from sim.forecast import (
    ForecastError,
    backtest,
    calibrated,
    daily_series,
    forecast,
    mape,
    start_model,
    uncalibrated,
)
from sim.scenario import load_scenario
from sim.state import read_state

runner = CliRunner()


def _runs(root, kind):
    files = list((root / "runs").glob("run_id=*/*.parquet"))
    if not files:
        return []
    con = duckdb.connect()
    rows = con.execute("SELECT run_id, kind, parameters FROM read_parquet(?, hive_partitioning = true) "
                       "WHERE kind = ? ORDER BY run_id", [[str(f) for f in files], kind]).fetchall()
    con.close()
    return rows


def _config(tmp_path, text, name="new.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_mape_skips_days_with_nothing_to_compare():
    assert mape([110, 90, 5], [100, 100, 0]) == pytest.approx(0.1)
    assert mape([1, 2], [0, 0]) is None


def test_a_calibrated_backtest_scores_every_metric_and_writes_backtest_runs(forecast_source):
    root, rid, _ = forecast_source
    bt = backtest(root, rid, 20, 10, seeds=2, calibrator=functools.partial(calibrated, design_users=600))
    assert bt.calibration.startswith("calibrated on")
    scores = {s.metric: s for s in bt.scores}
    for k in ("actives", "purchases", "revenue_cents", "issuance"):
        assert scores[k].mape is not None and math.isfinite(scores[k].mape), k
        assert len(scores[k].seed_mapes) == 2
    assert len(bt.actual["actives"]) == 10 and all(a > 0 for a in bt.actual["actives"])
    rows = [r for r in _runs(root, "backtest") if r[0] in bt.run_ids]
    assert len(rows) == 2
    meta = json.loads(rows[0][2])["forecast"]
    assert meta == {"variant": "backtest", "group": bt.group, "from_day": "2026-01-20", "source": rid}


def test_a_backtest_uses_the_calibration_step_it_is_given(forecast_source):
    root, rid, _ = forecast_source
    seen = []

    def calibrator(root_, source, to_day, base):
        seen.append((source, to_day))
        return load_scenario(base, sets=["behaviour.engagement_median=0.05"]), "test calibration"

    bt = backtest(root, rid, 20, 5, seeds=1, calibrator=calibrator, write=True)
    assert seen == [(rid, bt.fit_last)] and bt.calibration == "test calibration"
    params = json.loads([r for r in _runs(root, "backtest") if r[0] == bt.run_ids[0]][0][2])
    assert params["behaviour"]["engagement_median"] == 0.05


def test_a_backtest_longer_than_the_source_is_refused_and_writes_nothing(forecast_source):
    root, rid, _ = forecast_source
    before = len(_runs(root, "backtest"))
    with pytest.raises(ForecastError, match="has 30 days"):
        backtest(root, rid, 25, 10, calibrator=uncalibrated)
    assert len(_runs(root, "backtest")) == before


def test_a_forecast_with_a_richer_daily_login_issues_more(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    new = _config(tmp_path, "[rewards]\ndaily_login = 10\n")
    fc = forecast(root, new, source=rid, days=8, seeds=3)
    assert fc.changes == ["economy.rewards.daily_login"]
    diff = fc.difference("free_issuance")
    assert diff.n == 3 and diff.low > 0
    rows = {r[0]: json.loads(r[2])["forecast"] for r in _runs(root, "forecast") if r[0].startswith(fc.group)}
    assert len(rows) == 6
    assert {m["variant"] for m in rows.values()} == {"current", "new"}
    assert {m["from_day"] for m in rows.values()} == {"2026-01-30"} and {m["group"] for m in rows.values()} == {fc.group}


def test_a_config_that_changes_nothing_is_said_so_and_simulated_once(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    same = _config(tmp_path, "[rewards]\ndaily_login = 2\n")
    fc = forecast(root, same, source=rid, days=3, seeds=2)
    assert fc.no_change and set(fc.figures) == {"current"} and len(fc.run_ids["current"]) == 2
    res = runner.invoke(app, ["sim", "forecast", "--source", rid, "--config", str(same), "--days", "3", "--seeds",
                              "1", "--warehouse", str(root)])
    assert res.exit_code == 0, res.output
    assert "changes nothing" in " ".join(res.output.split())


def test_a_config_with_an_unknown_key_is_refused_before_anything_is_written(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    before = len(_runs(root, "forecast"))
    bad = _config(tmp_path, "[rewards]\ndaily_logins = 10\n")
    with pytest.raises(ForecastError, match="daily_logins"):
        forecast(root, bad, source=rid, days=3, seeds=1)
    res = runner.invoke(app, ["sim", "forecast", "--source", rid, "--config", str(tmp_path / "missing.toml"),
                              "--warehouse", str(root)])
    assert res.exit_code == 2 and "not found" in " ".join(res.output.split())
    res = runner.invoke(app, ["sim", "forecast", "--source", "nope", "--config", str(bad), "--warehouse", str(root)])
    assert res.exit_code == 2
    assert len(_runs(root, "forecast")) == before


def test_backtest_command_prints_the_mape_table(forecast_source):
    root, rid, _ = forecast_source
    res = runner.invoke(app, ["sim", "backtest", "--source", rid, "--fit-days", "25", "--predict-days", "4",
                              "--seeds", "2", "--no-calibrate", "--warehouse", str(root)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "MAPE" in out and "actives" in out and "kind backtest" in out
    res = runner.invoke(app, ["sim", "backtest", "--source", rid, "--fit-days", "0", "--predict-days", "4",
                              "--warehouse", str(root)])
    assert res.exit_code == 2 and ">= 1" in " ".join(res.output.split())


def test_a_forecast_is_deterministic_for_a_seed(forecast_source):
    root, rid, _ = forecast_source
    st = read_state(root, rid)
    series = []
    for _ in range(2):
        m = start_model(load_scenario("baseline"), st, days=4, seed=11)
        m.run_days(4)
        series.append([dict(m.datacollector.model_vars)[k] for k in ("issued", "logins_today", "revenue_cents")])
    assert series[0] == series[1]


def test_daily_series_leave_the_opening_out_of_issuance(forecast_source, tmp_path):
    root, rid, _ = forecast_source
    bt = backtest(root, rid, 28, 2, seeds=1, calibrator=uncalibrated)
    got = daily_series(root, bt.run_ids[0], bt.days[0], bt.days[-1])
    st = read_state(root, rid, bt.fit_last)
    assert 0 < got["issuance"][0] < st.totals["issued"]
