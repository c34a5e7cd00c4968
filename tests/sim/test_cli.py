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


def test_sim_sweep_prints_intervals_and_paired_differences_and_fills_the_sweeps_table(tmp_path):
    res = runner.invoke(app, ["sim", "sweep", "baseline", "--grid", "rewards.daily_login=2,4", "--seeds", "2",
                              "--users", "20", "--days", "2", "--workers", "2", "--metric", "free_issued",
                              "--out", str(tmp_path / "wh")])
    assert res.exit_code == 0, res.output
    assert "(control)" in res.output and "95% CI" in res.output
    saved = json.loads(next((tmp_path / "runs").glob("sweep-*.json")).read_text())
    assert len(saved["runs"]) == 4 and saved["control"] == "rewards.daily_login=2"
    diff = next(r["diff"] for r in saved["summary"] if r["variant"] == "rewards.daily_login=4")
    assert set(diff) == {"mean", "low", "high", "n"} and diff["mean"] > 0
    assert list((tmp_path / "wh" / "sweeps").glob("run_id=*/part-0.parquet"))


def test_sim_sweep_refuses_an_unknown_metric_before_running(tmp_path):
    res = runner.invoke(app, ["sim", "sweep", "baseline", "--metric", "nope", "--seeds", "1", "--users", "20",
                              "--days", "2", "--out", str(tmp_path / "wh")])
    assert res.exit_code == 2 and "unknown metric" in res.output and "nope" in res.output
    assert not (tmp_path / "wh").exists()


def test_sim_sweep_refuses_a_variant_file_with_an_unknown_key(tmp_path):
    f = tmp_path / "v.toml"
    f.write_text('[variant.a]\nrewards.daily_login = 3\n[variant.b]\nrewards.daily_logins = 3\n')
    res = runner.invoke(app, ["sim", "sweep", "baseline", "--variants", str(f), "--seeds", "1", "--users", "20",
                              "--days", "2", "--out", str(tmp_path / "wh")])
    assert res.exit_code == 2 and "variant 'b'" in res.output and "daily_logins" in res.output
    assert not (tmp_path / "wh").exists()


def test_sim_sweep_refuses_zipped_axes_of_different_lengths(tmp_path):
    res = runner.invoke(app, ["sim", "sweep", "baseline", "--zip", "rewards.daily_login=2,3", "--zip",
                              "rewards.streak_bonus=10,20,30", "--seeds", "1", "--out", str(tmp_path / "wh")])
    assert res.exit_code == 2 and "same number of values" in res.output
    assert not (tmp_path / "wh").exists()


def test_sim_frontier_prints_and_stores_the_pareto_frontier(tmp_path):
    res = runner.invoke(app, ["sim", "frontier", "pump_and_dump", "--axis", "market.price_band.enabled=true",
                              "--axis", "market.price_band.width_bps=500,2000", "--seeds", "2", "--users", "60",
                              "--days", "7", "--no-write", "--out", str(tmp_path / "wh")])
    assert res.exit_code == 0, res.output
    assert "Pareto frontier" in res.output
    saved = json.loads(next((tmp_path / "runs").glob("frontier-*.json")).read_text())
    assert [p["variant"] for p in saved["points"]].count("control") == 1 and len(saved["points"]) == 3
    front = [p for p in saved["points"] if p["on_frontier"]]
    assert front
    for p in saved["points"]:  # nothing off the frontier beats a frontier point on both counts
        if not p["on_frontier"]:
            assert any(f["victims_losses"]["mean"] <= p["victims_losses"]["mean"]
                       and f["honest_volume_coin"]["mean"] >= p["honest_volume_coin"]["mean"] for f in front)


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
