"""Small runs shared by the simulator tests (each a few hundred users over days)."""

from __future__ import annotations

import pytest

from sim import load_scenario, run


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    """A small baseline run with the invariant check after every day, written to a warehouse."""
    root = tmp_path_factory.mktemp("wh")
    model, result = run(load_scenario("baseline"), users=150, days=8, seed=7, root=root, check_each_day=True)
    return model, result, root


@pytest.fixture(scope="session")
def forecast_source(tmp_path_factory):
    """A source to forecast from: 1200 users over 30 days with bettors (pools) and the
    market, in its own warehouse. Returns (warehouse root, run id, the run's model)."""
    root = tmp_path_factory.mktemp("fc_wh")
    sc = load_scenario("baseline", sets=["population.betting.bettors_share=0.1"])
    model, result = run(sc, users=1200, days=30, seed=5, root=root)
    return root, result.run_id, model
