"""After every simulated day the ledger's invariants hold (the model asserts them when
``check_each_day`` is on), in every kind of scenario."""

from __future__ import annotations

import pytest

from ledger.model import MINT
from sim import EconomyModel, load_scenario


@pytest.mark.parametrize("scenario", ["pump_and_dump_defended", "phase2_pools", "sybil", "bonding_curve"])
def test_ledger_check_passes_after_every_day(scenario):
    model = EconomyModel(load_scenario(scenario), users=120, days=6, seed=2, check_each_day=True)
    model.run_days()
    assert model.steps == 6
    assert model.ledger.check().ok


def test_the_baseline_run_stayed_consistent_and_did_things(baseline_run):
    model, result, _ = baseline_run
    s = result.summary
    assert s["logins"] > 0 and s["votes"] > 0 and s["paid_sessions"] > 0
    assert s["issued"] == -model.ledger.balance(MINT)
    assert model.ledger.check().problems == ()


def test_a_broken_invariant_is_caught():
    model = EconomyModel(load_scenario("baseline"), users=20, days=2, seed=1, check_each_day=True)
    model.step()
    model.ledger.store.book.balances[("user:u1", "COIN")] = -5  # corrupt a balance behind the ledger's back
    with pytest.raises(AssertionError):
        model.step()
