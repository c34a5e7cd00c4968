"""The benchmark's naive model runs the same economy, stepping every user every day."""

from __future__ import annotations

from sim import EconomyModel, load_scenario
from sim.naive import NaiveEconomyModel


def _run(cls):
    model = cls(load_scenario("baseline"), users=200, days=10, seed=4, check_each_day=True)
    model.run_days()
    return model


def test_every_user_exists_from_the_start_and_is_stepped_daily():
    model = NaiveEconomyModel(load_scenario("baseline"), users=50, days=3, seed=1)
    model.step()
    assert len(model.users) == 50
    arrived = sum(1 for u in model.users if u.arrival_day == 0)
    assert model.counts["arrivals"] == arrived > 0
    model.run_days(2)
    assert model.counts["arrivals"] == sum(1 for u in model.users if u.arrival_day <= 2)


def test_the_naive_and_event_driven_economies_come_out_alike():
    fast, naive = _run(EconomyModel), _run(NaiveEconomyModel)
    assert fast.counts["arrivals"] == naive.counts["arrivals"] == 200
    f_logins = sum(fast.datacollector.model_vars["logins_today"])
    n_logins = sum(naive.datacollector.model_vars["logins_today"])
    assert abs(f_logins - n_logins) < 0.25 * f_logins
    assert naive.ledger.check().ok
