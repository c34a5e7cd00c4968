"""Market defenses protect the pump-and-dump's victims: on the same seeds the defended
market loses them less than the undefended one."""

from __future__ import annotations

import pytest

from sim import load_scenario, run


@pytest.mark.parametrize("seed", [1, 2])
def test_defended_market_loses_victims_less(seed):
    open_ = run(load_scenario("pump_and_dump"), users=60, days=8, seed=seed, root=None)[1].summary
    shut = run(load_scenario("pump_and_dump_defended"), users=60, days=8, seed=seed, root=None)[1].summary
    assert open_["victims_losses"] > 0
    assert shut["victims_losses"] < open_["victims_losses"]
    assert shut["defenses_fired"] > 0 and open_["defenses_fired"] == 0


def test_the_ring_targets_the_coin_with_least_demand():
    model, result = run(load_scenario("pump_and_dump"), users=30, days=4, seed=1, root=None)
    weakest = min(model.sellers, key=lambda s: s.demand).symbol
    assert result.summary["ring_targets"] == [weakest]


@pytest.mark.parametrize("defense, strategy", [
    ("circuit_breaker", "hype_dump"),  # the pump's climb of ~5% an hour trips a 10%-in-6-hours breaker
    ("rate_limit", "wash_ladder"),  # a ladder of wash trades sends more than 10 orders an hour
    ("daily_limit", "hype_dump"),  # ring members trade more than 100 coins a day
    ("holding_cap", "spoof"),  # walls and accumulation ask for more than 100 coins
])
def test_each_defense_the_scenario_tunes_fires_against_the_ring(defense, strategy):
    sc = load_scenario("pump_and_dump", sets=[f"market.{defense}.enabled=true",
                                              f'population.pump.strategy="{strategy}"'])
    s = run(sc, users=100, days=6, seed=1, root=None)[1].summary
    assert s["defenses_by_kind"].get(defense, 0) > 0


@pytest.mark.parametrize("strategy, counter", [("wash_ladder", "wash_rungs"), ("spoof", "spoof_cancels")])
def test_each_ring_strategy_does_what_it_says(strategy, counter):
    model, result = run(load_scenario("pump_and_dump", sets=[f'population.pump.strategy="{strategy}"']), seed=1,
                        root=None)
    assert model.counts[counter] > 0
    ring = {a for a, r in model.roles.items() if r == "ring"}
    if strategy == "wash_ladder":  # one-coin asks by members, each a rung above the last price, bought by the ring
        rungs = [o for o in model.orders if o.account in ring and o.side == "sell" and o.quantity == 1]
        assert len(rungs) >= model.pop.pump.wash_rungs // 2
        assert max(o.price for o in rungs) > min(o.price for o in rungs)
    else:  # no wall ever filled: every spoof order was cancelled with nothing traded
        walls = [o for o in model.orders if o.account in ring and o.side == "buy" and o.tif == "GTD"]
        assert walls and all(o.filled == 0 for o in walls)
