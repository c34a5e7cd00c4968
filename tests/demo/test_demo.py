"""`coinlab demo` end to end in a temporary data folder (no dashboards): the simulator's
population as production's users over HTTP, both scenarios, the export, a clean check; a
second run adds nothing, and a run that died half-way ends with the same ledger as one that
did not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from coinlab_cli.main import app
from dashboards.warehouse import connect
from ledger import Ledger
from ledger.sql import SqlStore

DAYS, USERS = 10, 80  # the least calibration takes: >= 50 users in the back-test's 7 fit days
ARGS = ["--no-dash", "--port", "0", "--users", str(USERS), "--days", str(DAYS), "--sim-users", "60", "--sim-days", "4"]


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
        "SELECT DISTINCT scenario FROM runs WHERE source = 'sim' AND kind = 'run' ORDER BY 1").fetchall()
    assert [s for (s,) in scenarios] == ["baseline", "pump_and_dump"]
    assert _count(data, "SELECT count(*) FROM entries WHERE source = 'sim'") > 0


def _rows(data, sql):
    return connect(data / "warehouse").execute(sql).fetchall()


def test_production_shows_the_population_voting_unlocking_buying_staking_and_trading(demo_dir):
    data, _ = demo_dir
    types = {t for (t,) in _rows(data, "SELECT DISTINCT entry_type FROM entries WHERE run_id = 'prod'")}
    assert {"GUEST_INITIAL", "DAILY_LOGIN", "VOTE_SPENT", "DEEP_ANALYSIS_UNLOCK", "STAKE", "COIN_PURCHASE",
            "EARNED", "TRADE"} <= types


def test_every_purchase_was_credited_once_by_a_stripe_webhook(demo_dir):
    data, output = demo_dir
    paid = _count(data, "SELECT count(*) FROM payments WHERE run_id = 'prod' AND status = 'paid'")
    credited = _count(data, "SELECT count(*) FROM entries WHERE run_id = 'prod' AND entry_type = 'COIN_PURCHASE'")
    assert paid > 0 and credited == paid
    assert "redelivered" in output  # some webhooks came twice, as Stripe may send them


def test_the_population_comes_back_on_several_days_and_thins_out(demo_dir):
    """Sessions follow the behaviour model: users return on later days, fewer each day
    than on the first (churn), and every one of the population's users arrived."""
    data, _ = demo_dir
    actives = [n for (_, n) in _rows(data, """
        SELECT CAST(time AS DATE), count(DISTINCT to_account) FROM entries
        WHERE run_id = 'prod' AND entry_type = 'DAILY_LOGIN' GROUP BY 1 ORDER BY 1""")]
    assert len(actives) == DAYS and max(actives[1:]) < actives[0]
    returning = _count(data, """SELECT count(*) FROM (SELECT to_account FROM entries
        WHERE run_id = 'prod' AND entry_type = 'DAILY_LOGIN' GROUP BY 1
        HAVING count(DISTINCT CAST(time AS DATE)) >= 3)""")
    assert returning >= 5
    assert _count(data, "SELECT count(DISTINCT to_account) FROM entries WHERE run_id = 'prod' "
                        "AND entry_type = 'GUEST_INITIAL'") == USERS


def test_production_days_are_past_days_one_per_simulated_day(demo_dir):
    data, _ = demo_dir
    days = [d for (d,) in _rows(data, "SELECT DISTINCT CAST(time AS DATE) FROM entries WHERE run_id = 'prod' "
                                      "ORDER BY 1")]
    assert len(days) == DAYS and days[-1] < datetime.now(UTC).date()
    assert all((b - a).days == 1 for a, b in zip(days, days[1:], strict=False))


def test_the_ledger_checks_clean(demo_dir):
    data, output = demo_dir
    assert "coinlab check" in output
    result = CliRunner().invoke(app, ["check", "--db", f"sqlite:///{data / 'ledger.sqlite'}"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_the_simulator_is_calibrated_to_production_back_tested_and_forecast_in_the_warehouse(demo_dir):
    data, output = demo_dir
    kinds = dict(_rows(data, "SELECT kind, count(*) FROM runs WHERE source = 'sim' GROUP BY 1"))
    assert kinds.get("calibrated") == 1 and kinds.get("backtest") == 3
    assert kinds.get("forecast") == 6  # current and new config, on the same 3 seeds
    calibrated = (data / "runs" / "calibrated.toml").read_text()
    assert "[scenario.calibration]" in calibrated and 'source = "prod"' in calibrated
    assert "back-test" in output and "MAPE" in output and "forecast" in output


def test_a_second_run_reuses_everything_and_adds_no_production_rows(demo_dir):
    data, _ = demo_dir
    before = _count(data, "SELECT count(*) FROM entries WHERE run_id = 'prod'")
    runs = _count(data, "SELECT count(*) FROM runs")
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS])
    assert result.exit_code == 0, result.output
    assert "reused" in result.output and "already in the warehouse" in result.output
    assert "forecast already in the warehouse" in result.output
    assert _count(data, "SELECT count(*) FROM runs") == runs
    assert _count(data, "SELECT count(*) FROM entries WHERE run_id = 'prod'") == before
    assert _count(data, "SELECT count(*) FROM runs WHERE source = 'sim' AND kind = 'run'") == 2


def test_a_rerun_of_finished_traffic_replays_it_from_the_tape_without_adding_anything(demo_dir):
    """The state file says the traffic did not finish: the same days are lived again, every
    answer read back from the tape, so nothing is sent and nothing is added."""
    data, _ = demo_dir
    state_file = data / "runs" / "demo-state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "completed": False}))
    ledger = Ledger(SqlStore(f"sqlite:///{data / 'ledger.sqlite'}"))
    before = ledger.check().entries
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS])
    assert result.exit_code == 0, result.output
    assert "population over HTTP" in result.output and "0 server errors" in result.output
    assert ledger.check().entries == before
    assert json.loads(state_file.read_text())["completed"] is True


def _journal(data):
    return sorted(_rows(data, """SELECT entry_type, asset, amount, from_account, to_account, CAST(time AS VARCHAR)
                                 FROM entries WHERE run_id = 'prod'"""))


def test_a_run_that_died_half_way_ends_with_the_same_ledger_as_one_that_did_not(demo_dir, tmp_path, monkeypatch):
    """The population dies after three days, with the answer to its last request lost (it
    reached the service, the tape never heard back). Run again, the tape brings the agents
    to the same place, the lost request is replayed by the service under its idempotency
    key, and the journal is the uninterrupted run's, entry for entry."""
    from sim.model import EconomyModel

    clean, _ = demo_dir
    data = tmp_path / "died"
    live_step = EconomyModel.step

    def dies_on_day_four(self):
        if self.backend is not None and self.steps == 4:
            raise RuntimeError("killed")
        live_step(self)

    monkeypatch.setattr(EconomyModel, "step", dies_on_day_four)
    died = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS, "--no-analysis"])
    assert died.exit_code != 0 and isinstance(died.exception, RuntimeError)
    tape = data / "runs" / "demo-tape.jsonl"
    lines = tape.read_text().splitlines(keepends=True)
    tape.write_text("".join(lines[:-1]))  # the last answer was never taped
    assert Ledger(SqlStore(f"sqlite:///{data / 'ledger.sqlite'}")).check().entries > 0
    monkeypatch.setattr(EconomyModel, "step", live_step)

    result = CliRunner().invoke(app, ["demo", "--data-dir", str(data), *ARGS, "--no-analysis"])
    assert result.exit_code == 0, result.output
    assert f"{len(lines) - 1} replayed from the tape" in result.output
    assert _journal(data) == _journal(clean)
    assert Ledger(SqlStore(f"sqlite:///{data / 'ledger.sqlite'}")).check().ok
