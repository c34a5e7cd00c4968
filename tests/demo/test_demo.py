"""`coinlab demo` end to end in a temporary data folder (no dashboards): production
traffic over HTTP, both scenarios, the export, a clean check; a second run adds nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from dashboards.warehouse import connect
from ledger import Ledger
from ledger.sql import SqlStore

ARGS = ["--no-dash", "--port", "0", "--users", "14", "--days", "2", "--sim-users", "60", "--sim-days", "4"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """One demo run shared by the tests of this module (the second run is its own test)."""
    data = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS])
    assert result.exit_code == 0, result.output
    return data, result.output


def _count(data, sql):
    return connect(data / "warehouse").execute(sql).fetchall()[0][0]


def test_the_warehouse_holds_production_and_both_scenarios(demo_dir):
    data, _ = demo_dir
    assert _count(data, "SELECT count(*) FROM entries WHERE source = 'prod'") > 0
    scenarios = connect(data / "warehouse").execute(
        "SELECT DISTINCT scenario FROM runs WHERE source = 'sim' ORDER BY 1").fetchall()
    assert [s for (s,) in scenarios] == ["baseline", "pump_and_dump"]
    assert _count(data, "SELECT count(*) FROM entries WHERE source = 'sim'") > 0


def test_production_traffic_covers_purchases_rewards_and_trading(demo_dir):
    data, _ = demo_dir
    types = {t for (t,) in connect(data / "warehouse").execute(
        "SELECT DISTINCT entry_type FROM entries WHERE run_id = 'prod'").fetchall()}
    assert {"COIN_PURCHASE", "DAILY_LOGIN", "VOTE_SPENT", "TRADE"} <= types
    assert _count(data, "SELECT count(*) FROM payments WHERE run_id = 'prod' AND status = 'paid'") > 0


def test_production_days_are_past_days_one_per_simulated_day(demo_dir):
    data, _ = demo_dir
    days = [d for (d,) in connect(data / "warehouse").execute(
        "SELECT DISTINCT CAST(time AS DATE) FROM entries WHERE run_id = 'prod' ORDER BY 1").fetchall()]
    assert len(days) == 2 and days[-1] < datetime.now(UTC).date()


def test_the_ledger_checks_clean(demo_dir):
    data, output = demo_dir
    assert "coinlab check" in output
    result = CliRunner().invoke(app, ["check", "--db", f"sqlite:///{data / 'ledger.sqlite'}"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_a_second_run_reuses_everything_and_adds_no_production_rows(demo_dir):
    data, _ = demo_dir
    before = _count(data, "SELECT count(*) FROM entries WHERE run_id = 'prod'")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS])
    assert result.exit_code == 0, result.output
    assert "reused" in result.output and "already in the warehouse" in result.output
    assert _count(data, "SELECT count(*) FROM entries WHERE run_id = 'prod'") == before
    assert _count(data, "SELECT count(*) FROM runs WHERE source = 'sim'") == 2


def test_a_run_that_died_during_the_traffic_replays_it_without_doubling_anything(demo_dir):
    """The state file says the traffic did not finish: the same days are sent again, and
    idempotency keys, once-per-day logins and once-per-user rewards turn them into replays."""
    data, _ = demo_dir
    state_file = data / "runs" / "demo-state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "completed": False}))
    ledger = Ledger(SqlStore(f"sqlite:///{data / 'ledger.sqlite'}"))
    before = ledger.check().entries
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS])
    assert result.exit_code == 0, result.output
    assert "traffic over HTTP" in result.output
    assert ledger.check().entries == before
    assert json.loads(state_file.read_text())["completed"] is True
