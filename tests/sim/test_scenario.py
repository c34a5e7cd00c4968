"""Scenario files: every one loads; --set overrides; bad keys are named."""

from __future__ import annotations

import pytest

from ledger.economy.config import ConfigError
from sim.scenario import list_scenarios, load_scenario, parse_assignment

EXPECTED = {"baseline", "daily10", "phase2_pools", "package_pricing", "pump_and_dump",
            "pump_and_dump_defended", "sybil", "bonding_curve"}


def test_every_scenario_of_the_issue_exists_and_loads():
    assert set(list_scenarios()) >= EXPECTED
    for name in EXPECTED:
        sc = load_scenario(name)
        assert sc.name == name and sc.population.days >= 1


def test_scenarios_override_the_economy():
    assert load_scenario("daily10").config.rewards.daily_login == 10
    assert load_scenario("baseline").config.rewards.daily_login == 2
    assert load_scenario("phase2_pools").config.phase2.daily_bonus_requires_stake
    assert not load_scenario("pump_and_dump").market.price_band.enabled
    assert load_scenario("pump_and_dump_defended").market.price_band.enabled


def test_set_overrides_take_toml_literals():
    sc = load_scenario("baseline", sets=["rewards.daily_login=7", "population.users=42", "spend.burn=true"])
    assert (sc.config.rewards.daily_login, sc.population.users, sc.config.spend.burn) == (7, 42, True)
    assert parse_assignment("a.b=x y") == ("a.b", "x y")


@pytest.mark.parametrize("bad", ["rewards.nope=1", "population.users=-1", "population.zzz=1",
                                 "market.price_band.width=3", "noequals"])
def test_bad_overrides_name_the_key(bad):
    with pytest.raises(ConfigError):
        load_scenario("baseline", sets=[bad])


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ConfigError, match="baseline"):
        load_scenario("no_such_scenario")


def test_an_unknown_ring_strategy_is_refused():
    import pytest as _pytest

    from ledger.economy.config import ConfigError
    from sim.scenario import load_scenario as _load

    with _pytest.raises(ConfigError, match="population.pump.strategy"):
        _load("pump_and_dump", sets=['population.pump.strategy="pump_harder"'])
