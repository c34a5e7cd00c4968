"""The default population reproduces published shapes of app economies, and responds
to the economy with the right sign (sim/behaviour.py). Facts are read from the
warehouse tables (`dashboards.metrics.facts`), over 5 seeds at a small size; responses
compare a variant with the control on the same seeds (common random numbers)."""

from __future__ import annotations

import statistics

import pytest

from dashboards import metrics
from dashboards.warehouse import connect
from sim import load_scenario, run

SEEDS = range(1, 6)
PACKAGES = {"starter": (499, 1), "small": (999, 25), "medium": (1999, 100), "large": (4999, 500), "xl": (9999, 1500)}


def _runs(tmp_path_factory, sets: list[str], users: int, days: int):
    root = tmp_path_factory.mktemp("wh")
    out = []
    for seed in SEEDS:
        model, res = run(load_scenario("baseline", sets=sets), users=users, days=days, seed=seed, root=root)
        out.append((model, res, metrics.facts(connect(root), res.run_id)))
    return out


@pytest.fixture(scope="module")
def facts_runs(tmp_path_factory):
    return _runs(tmp_path_factory, [], users=2000, days=90)


def _mean(xs) -> float:
    return statistics.fmean(xs)


def test_retention_falls_within_published_ranges(facts_runs):
    d1 = _mean(f.retention[1] for _, _, f in facts_runs)
    d7 = _mean(f.retention[7] for _, _, f in facts_runs)
    d30 = _mean(f.retention[30] for _, _, f in facts_runs)
    assert 0.25 <= d1 <= 0.45
    assert 0.10 <= d7 <= 0.25
    assert 0.03 <= d30 <= 0.12
    assert d1 > d7 > d30


def test_payer_conversion_is_a_few_percent(facts_runs):
    assert 0.01 <= _mean(f.conversion for _, _, f in facts_runs) <= 0.08


def test_top_tenth_of_payers_bring_at_least_forty_percent_of_revenue(facts_runs):
    assert _mean(f.top10_revenue_share for _, _, f in facts_runs) >= 0.40


def test_a_quarter_of_payers_buy_again_within_sixty_days(facts_runs):
    assert _mean(f.repeat_rate for _, _, f in facts_runs) >= 0.25


# -- responses: the same seeds under a changed economy -------------------------------------
@pytest.fixture(scope="module")
def control(tmp_path_factory):
    return _runs(tmp_path_factory, [], users=1500, days=60)


def _paired(control, variant, figure) -> list[float]:
    return [figure(v) - figure(c) for c, v in zip(control, variant, strict=True)]


def test_a_bigger_daily_login_brings_more_daily_actives_and_d7(control, tmp_path_factory):
    variant = _runs(tmp_path_factory, ["rewards.daily_login=10"], users=1500, days=60)
    dau = _paired(control, variant, lambda r: r[1].summary["logins"])
    d7 = _paired(control, variant, lambda r: r[2].retention[7])
    assert _mean(dau) > 0 and sum(d > 0 for d in dau) >= 4
    assert _mean(d7) > 0


def test_dearer_packages_convert_fewer_users(control, tmp_path_factory):
    sets = [f"packages.{p}.price_cents={price * 3 // 2}" for p, (price, _) in PACKAGES.items()]
    variant = _runs(tmp_path_factory, sets, users=1500, days=60)
    assert _mean(_paired(control, variant, lambda r: r[2].conversion)) < 0


def _purchases(r) -> tuple[int, int, int]:
    paid = [p for p in r[0].economy.payments.store.all() if p.paid_at is not None and p.user_id.startswith("u")]
    return len(paid), len({p.user_id for p in paid}), sum(p.base_coins + p.bonus_coins for p in paid)


def test_a_fivefold_bonus_gives_more_coins_per_purchase_and_fewer_purchases_per_payer(control, tmp_path_factory):
    # Not double: over 20 paired seeds at this size a doubled bonus moved purchases per payer
    # by -0.009 +- 0.023 (a payer here buys once or twice in 60 days), so its sign was a
    # coin toss; fivefold moved it by -0.12 +- 0.027 (17 of 20 seeds fewer).
    sets = [f"packages.{p}.bonus_coins={bonus * 5}" for p, (_, bonus) in PACKAGES.items()]
    variant = _runs(tmp_path_factory, sets, users=1500, days=60)

    def coins_per_purchase(r):
        n, _, coins = _purchases(r)
        return coins / n

    def purchases_per_payer(r):
        n, payers, _ = _purchases(r)
        return n / payers

    assert _mean(_paired(control, variant, coins_per_purchase)) > 0
    assert _mean(_paired(control, variant, purchases_per_payer)) < 0


def test_the_price_band_cuts_pump_victims_losses():
    off, on = [], []
    for seed in SEEDS:
        off.append(run(load_scenario("pump_and_dump"), seed=seed, root=None)[1].summary["victims_losses"])
        on.append(run(load_scenario("pump_and_dump", sets=["market.price_band.enabled=true"]), seed=seed,
                      root=None)[1].summary["victims_losses"])
    assert all(a > b for a, b in zip(off, on, strict=True))
