"""`coinlab sim run` / `sim sweep` / `sim list` through the real Typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from coinlab_cli.main import app

runner = CliRunner()


def test_sim_run_writes_the_warehouse_and_prints_the_summary(tmp_path):
    res = runner.invoke(app, ["sim", "run", "baseline", "--users", "40", "--days", "3", "--seed", "9",
                              "--set", "rewards.daily_login=3", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["scenario"] == "baseline" and summary["days"] == 3 and summary["seed"] == 9
    assert list((tmp_path / "entries").glob("run_id=*/part-0.parquet"))


def test_sim_run_names_a_bad_key_and_exits_2(tmp_path):
    res = runner.invoke(app, ["sim", "run", "baseline", "--set", "rewards.nope=1", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "rewards.nope" in res.output
    assert not (tmp_path / "entries").exists()


def test_sim_sweep_prints_mean_and_spread(tmp_path):
    res = runner.invoke(app, ["sim", "sweep", "baseline", "--grid", "rewards.daily_login=2,4", "--seeds", "2",
                              "--users", "20", "--days", "2", "--workers", "2", "--out", str(tmp_path / "wh")])
    assert res.exit_code == 0, res.output
    assert "±" in res.output
    saved = json.loads(next((tmp_path / "runs").glob("sweep-*.json")).read_text())
    assert len(saved["runs"]) == 4
    assert [p["point"] for p in saved["points"]] == [["rewards.daily_login=2"], ["rewards.daily_login=4"]]
    assert set(saved["points"][0]["issued"]) == {"mean", "std"}


def test_sim_list_shows_the_scenarios():
    res = runner.invoke(app, ["sim", "list"])
    assert res.exit_code == 0 and "pump_and_dump_defended" in res.output


def test_sim_compare_puts_scenarios_side_by_side(tmp_path):
    res = runner.invoke(app, ["sim", "compare", "baseline", "daily10", "--seeds", "2", "--users", "20", "--days", "2",
                              "--out", str(tmp_path / "wh"), "--no-write"])
    assert res.exit_code == 0, res.output
    saved = json.loads(next((tmp_path / "runs").glob("compare-*.json")).read_text())
    assert set(saved["findings"]) == {"baseline", "daily10"}
    assert saved["findings"]["daily10"]["free_issued"]["mean"] > saved["findings"]["baseline"]["free_issued"]["mean"]
