"""`coinlab config show` and `coinlab config diff`."""

from __future__ import annotations

import json
import tomllib

from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger.economy.config import load_config, parse_config

runner = CliRunner()


def test_show_prints_the_effective_config_as_toml_that_loads_back(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text("[rewards]\ndaily_login = 3\n")
    result = runner.invoke(app, ["config", "show", "--scenario", str(scenario)])
    assert result.exit_code == 0, result.output
    shown = parse_config(tomllib.loads(result.output))
    assert shown == load_config(scenario=scenario)
    assert shown.rewards.daily_login == 3


def test_show_json(tmp_path):
    result = runner.invoke(app, ["config", "show", "--json"])
    assert json.loads(result.output)["pools"]["house_fee_bps"] == 300


def test_diff_shows_what_changes(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("[pools]\nhouse_fee_bps = 300\n")
    b.write_text("[pools]\nhouse_fee_bps = 500\n[spend]\nburn = true\n")
    result = runner.invoke(app, ["config", "diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "pools.house_fee_bps" in result.output and "500" in result.output
    assert "spend.burn" in result.output and "rewards" not in result.output


def test_diff_of_identical_configs(tmp_path):
    result = runner.invoke(app, ["config", "diff", "default", "default"])
    assert result.exit_code == 0 and "no differences" in result.output


def test_a_bad_scenario_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[rewards]\ndaily_login = -1\n")
    result = runner.invoke(app, ["config", "show", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "rewards.daily_login: must be >= 0" in result.output
