"""The behaviour model's pieces (sim/behaviour.py) and its config."""

from __future__ import annotations

import random

import pytest

from ledger.economy.config import ConfigError
from sim import load_scenario
from sim.behaviour import (
    Behaviour,
    Traits,
    choose_package,
    churn_hazard,
    draw_traits,
    next_event,
    session_chance,
)

B = Behaviour()
T = Traits(engagement_logit=0.0, reward_sensitivity=0.5, wtp_cents=1.0, appetite=1.0, risk=0.5, hype=0.5,
           is_pro=False)


def test_more_pay_and_affordable_wants_raise_the_session_chance():
    base = session_chance(B, T, pay=2, affordable=0.0, age_days=0)
    assert session_chance(B, T, pay=12, affordable=0.0, age_days=0) > base
    assert session_chance(B, T, pay=2, affordable=1.0, age_days=0) > base


def test_pay_has_diminishing_returns_and_novelty_wears_off():
    def chance(pay):
        return session_chance(B, T, pay=pay, affordable=0.0, age_days=0)

    assert chance(4) - chance(2) > chance(22) - chance(20)
    assert session_chance(B, T, pay=2, affordable=0, age_days=30) < chance(2)


def test_satisfaction_lowers_the_churn_hazard():
    assert churn_hazard(B, 2.0) < churn_hazard(B, 0.0) < churn_hazard(B, -2.0)


def test_next_event_gaps_follow_the_daily_chances():
    r = random.Random(1)
    draws = [next_event(r, 0.5, 0.5, 0.0) for _ in range(20_000)]
    assert not any(churn for _, churn in draws)
    assert sum(g for g, _ in draws) / len(draws) == pytest.approx(2.0, rel=0.05)  # geometric, p = 0.5
    always_back = [next_event(r, 1.0, 0.1, 0.0)[0] for _ in range(100)]
    assert set(always_back) == {1}


def test_next_event_ends_in_churn_at_the_hazards_share():
    r = random.Random(2)
    draws = [next_event(r, 0.3, 0.3, 0.1) for _ in range(20_000)]
    share = sum(churn for _, churn in draws) / len(draws)
    assert share == pytest.approx(0.1 / (0.1 + 0.9 * 0.3), rel=0.05)


def test_the_logit_buys_more_when_packages_are_cheaper():
    def buys(price):
        r = random.Random(3)
        options = [("p", 1000, price)]
        return sum(choose_package(r, options, 1.0, 500, 1.0, 0.7) is not None for _ in range(4000))

    assert buys(300) > buys(600) > buys(1200)


def test_the_logit_prefers_more_coins_for_the_same_price():
    r = random.Random(4)
    options = [("few", 500, 499), ("many", 1000, 499)]
    picks = [choose_package(r, options, 1.0, 500, 1.0, 0.7) for _ in range(4000)]
    assert picks.count("many") > picks.count("few")


def test_traits_share_a_common_factor():
    r = random.Random(5)
    traits = [draw_traits(Behaviour(trait_correlation=0.8), r) for _ in range(4000)]
    heavy = sorted(traits, key=lambda t: t.appetite)[-400:]
    light = sorted(traits, key=lambda t: t.appetite)[:400]
    assert sum(t.wtp_cents for t in heavy) > 3 * sum(t.wtp_cents for t in light)


@pytest.mark.parametrize("bad, named", [
    ("behaviour.nope=1", "behaviour.nope"),
    ("behaviour.promo_uptake=1.5", "behaviour.promo_uptake"),
    ("behaviour.votes_per_session=-1", "behaviour.votes_per_session"),
    ("behaviour.engagement_median=0", "behaviour.engagement_median"),
])
def test_a_bad_behaviour_key_or_value_is_an_error_naming_it(bad, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_scenario("baseline", sets=[bad])


def test_the_behaviour_table_reaches_the_scenario():
    sc = load_scenario("baseline", sets=["behaviour.wtp_median_cents=0.5"])
    assert sc.behaviour.wtp_median_cents == 0.5
    assert sc.parameters()["behaviour"]["wtp_median_cents"] == 0.5


# -- common random numbers: each user draws from their own stream ----------------------------
def _app_users_only() -> list[str]:
    """The calibration's population of app users only (no market agents, rings or farmers)."""
    from sim.calibrate import APP_USERS_ONLY

    return [f"population.{group}.{k}={v}" for group, kv in APP_USERS_ONLY.items() for k, v in kv.items()]


def _users(sets: list[str], seed: int = 7) -> dict:
    from sim import run

    model, _ = run(load_scenario("baseline", sets=_app_users_only() + sets), users=400, days=20, seed=seed, root=None)
    return {u.uid: u for u in model.users}


def test_runs_that_differ_in_a_parameter_draw_each_user_the_same_traits_scaled():
    base, moved = _users(["behaviour.wtp_median_cents=0.1"]), _users(["behaviour.wtp_median_cents=0.2"])
    assert base.keys() == moved.keys()
    for uid, u in base.items():
        assert moved[uid].traits.wtp_cents == pytest.approx(2 * u.traits.wtp_cents, rel=1e-9)
        assert moved[uid].traits.engagement_logit == u.traits.engagement_logit


def test_dearer_packages_leave_the_lives_of_users_who_never_buy_as_they_were():
    """A price change reaches only users who meet a purchase decision; everybody else's
    sessions are the same draws, so the paired difference is the change's effect."""
    prices = {"starter": 499, "small": 999, "medium": 1999, "large": 4999, "xl": 9999}
    base = _users([])
    dear = _users([f"packages.{p}.price_cents={v * 3 // 2}" for p, v in prices.items()])
    never = [k for k, u in base.items() if u.purchases == 0 and dear[k].purchases == 0 and not u.bettor]
    same = sum(base[k].sessions == dear[k].sessions for k in never)
    assert len(never) > 300 and same >= 0.98 * len(never)
    assert sum(u.purchases for u in dear.values()) < sum(u.purchases for u in base.values())


def test_another_seed_draws_other_users():
    a, b = _users([], seed=7), _users([], seed=8)
    assert sum(a[k].traits == b[k].traits for k in a.keys() & b.keys()) == 0
