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
