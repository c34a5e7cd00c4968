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
