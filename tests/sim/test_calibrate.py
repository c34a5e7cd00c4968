"""Calibration (sim/calibrate.py): bad input is refused with a message naming what is
missing; a calibration of a run writes a scenario `load_scenario` reads back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim import load_scenario, run
from sim.calibrate import CalibrationError, calibrate

NO_MARKET = ["population.market.shoppers=0", "population.market.traders=0", "population.market.whales=0"]


@pytest.fixture(scope="module")
def small_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    _, res = run(load_scenario("baseline", sets=NO_MARKET), users=400, days=14, seed=2, root=root)
    return root, res.run_id


def test_fewer_than_fifty_users_is_refused_naming_the_count(tmp_path):
    _, res = run(load_scenario("baseline", sets=NO_MARKET), users=30, days=10, seed=1, root=tmp_path)
    with pytest.raises(CalibrationError, match=r"30 app users .* at least 50"):
        calibrate(tmp_path, res.run_id)


def test_fewer_than_seven_days_is_refused_naming_the_window(small_source):
    root, rid = small_source
    with pytest.raises(CalibrationError, match=r"has 5 days .* at least 7"):
        calibrate(root, rid, from_day=_start(), to_day=_start() + timedelta(days=4))


def test_an_unknown_source_is_refused_listing_the_known_ones(small_source):
    root, rid = small_source
    with pytest.raises(CalibrationError, match=rid):
        calibrate(root, "no-such-run")


def test_a_source_without_purchases_is_refused(tmp_path):
    sets = NO_MARKET + ["behaviour.wtp_median_cents=0.0001", "behaviour.wtp_sigma=0", "behaviour.price_sensitivity=20"]
    _, res = run(load_scenario("baseline", sets=sets), users=120, days=8, seed=1, root=tmp_path)
    with pytest.raises(CalibrationError, match="no purchases"):
        calibrate(tmp_path, res.run_id)


def test_an_empty_warehouse_is_refused(tmp_path):
    with pytest.raises(CalibrationError, match="no entries table"):
        calibrate(tmp_path, "prod")


@pytest.fixture(scope="module")
def small_fit(small_source):
    root, rid = small_source
    return calibrate(root, rid, workers=1, design_users=300)


def test_the_per_user_features_come_in_account_order_so_the_bootstrap_is_reproducible(small_source):
    from dashboards.warehouse import connect
    from sim.moments import observe_warehouse, user_features
    from sim.state import source_days

    root, rid = small_source
    first, last = source_days(root, rid)
    accounts = user_features(observe_warehouse(connect(root), rid, first, last))["account"].to_list()
    assert len(accounts) > 300 and accounts == sorted(accounts)


def test_dry_days_count_the_days_a_user_ran_dry_up_to_their_first_checkout_or_ever_if_they_never_buy():
    """Dry days (an action left the user under DRY_COINS), per user, from a hand-made window:
    a buyer's count stops at their first checkout's day; a user who never buys counts every
    dry day, once per day; a user who never ran dry is in neither denominator."""
    import polars as pl

    from sim.moments import DRY_COINS, MOMENTS, Observed, moment_values, user_features

    low, ok = DRY_COINS - 1, DRY_COINS + 10
    rows = [("user:a", 0, "GUEST_INITIAL", 20), ("user:a", 1, "VOTE_SPENT", low), ("user:a", 3, "VOTE_SPENT", low),
            ("user:a", 5, "VOTE_SPENT", low),  # after the first checkout (day 3): not counted
            ("user:b", 0, "GUEST_INITIAL", 20), ("user:b", 2, "VOTE_SPENT", low), ("user:b", 2, "VOTE_SPENT", low),
            ("user:b", 4, "DEEP_ANALYSIS_UNLOCK", low), ("user:b", 6, "VOTE_SPENT", ok),
            ("user:c", 0, "GUEST_INITIAL", 20), ("user:c", 1, "VOTE_SPENT", ok)]
    entries = pl.DataFrame(rows, schema={"account": pl.String, "day": pl.Int32, "entry_type": pl.String,
                                         "after": pl.Int64}, orient="row")
    checkouts = pl.DataFrame({"account": ["user:a", "user:a"], "day": [3, 5], "price_cents": [199, 199],
                              "promo_code": [None, None], "paid": [True, True]},
                             schema={"account": pl.String, "day": pl.Int32, "price_cents": pl.Int64,
                                     "promo_code": pl.String, "paid": pl.Boolean})
    feats = user_features(Observed(entries, checkouts, 10, _start()), package_prices=[199])
    by = {r["account"]: r for r in feats.iter_rows(named=True)}
    assert (by["user:a"]["dry_to_buy"], by["user:b"]["dry_no_buy"], by["user:b"]["dry_no_buyer"]) == (2, 2, 1)
    assert by["user:c"]["dry_no_buyer"] == 0 and by["user:a"]["dry_no_buyer"] == 0
    values = dict(zip([m.name for m in MOMENTS], moment_values(feats), strict=True))
    assert values["dry_days_to_buy"] == 2.0 and values["dry_days_no_buy"] == 2.0


def test_the_interval_draws_take_out_what_the_jacobians_noise_adds_to_its_normal_equations():
    """A moment that does not respond to a parameter still gets a slope from noisy design
    runs, which J'WJ counts as curvature (so the interval draws would hardly move along
    it). Averaged over many noisy designs, the correction leaves that parameter's entry at
    its true value, 0, while the plain one sits well above it; a responding parameter's
    entry stays at its true value."""
    import numpy as np

    from sim.calibrate import _jacobian_noise

    rng = np.random.default_rng(0)
    runs, moments, slope = 30, 40, 4.0
    w = np.full(moments, 2.0)
    true = np.array([[slope, 0.0]] * moments)  # moments respond to the first parameter only
    raw, corrected = [], []
    for _ in range(300):
        dx = rng.uniform(-0.25, 0.25, (runs, 2))
        design = np.column_stack([np.ones(runs), dx])
        sims = dx @ true.T + rng.normal(0.0, 0.5, (runs, moments))
        coef, rss = np.linalg.lstsq(design, sims, rcond=None)[:2]
        jw = coef[1:].T * w[:, None]
        normal = jw.T @ jw
        raw.append(normal)
        corrected.append(normal - _jacobian_noise(np.diag(w), design, rss / (runs - 3)))
    truth = (true * w[:, None]).T @ (true * w[:, None])
    raw_mean, corrected_mean = np.mean(raw, axis=0), np.mean(corrected, axis=0)
    assert raw_mean[1, 1] > 10.0  # the noise's spurious curvature
    assert abs(corrected_mean[1, 1]) < 0.1 * raw_mean[1, 1]
    assert corrected_mean[0, 0] == pytest.approx(truth[0, 0], rel=0.02)


def test_the_objective_weighs_a_moment_counted_twice_about_once_not_twice():
    """Weights of 1/variance count two moments that measure the same thing (buyer share
    and conversion nearly are) twice; the objective's whitener (the moments' bootstrap
    covariance, shrunk toward its diagonal) weighs them as about one, and leaves
    uncorrelated moments at 1/variance."""
    import numpy as np

    from sim.calibrate import SHRINK, _covariance, _whitener

    rng = np.random.default_rng(1)
    a, b = rng.normal(0.0, 2.0, 4000), rng.normal(0.0, 3.0, 4000)
    boot = np.column_stack([a, a, b, np.full(4000, np.nan)])  # the last: a moment not matched
    usable = np.array([True, True, True, False])
    c = _whitener(_covariance(boot, usable), usable)
    twice = c @ np.array([2.0, 2.0, 0.0])  # one standard error off, in both copies
    assert twice @ twice == pytest.approx(2.0 / (2.0 - SHRINK), rel=0.05)  # 1.11 at 0.2: about once
    alone = c @ np.array([0.0, 0.0, 3.0])
    assert alone @ alone == pytest.approx(1.0, rel=0.05)
    sparse = boot.copy()
    sparse[::2, 2] = np.nan  # a rare moment with no denominator in half the samples: still weighed, finitely
    assert np.all(np.isfinite(_whitener(_covariance(sparse, usable), usable)))


def test_misfit_scores_the_source_s_own_behaviour_far_better_than_a_wrong_one_and_reproducibly(small_source):
    """`misfit` is the calibration's objective on real runs: the behaviour the source ran
    with (the defaults) scores near the runs' own noise (about one per moment, plus a
    third of that from three pooled runs), a population four times as willing to pay and
    twice as engaged scores far above it, and the same call gives the same score. Its
    progress callback hears of each run."""
    from sim.behaviour import Behaviour
    from sim.calibrate import FITTED, misfit

    root, rid = small_source
    truth = {k: getattr(Behaviour(), k) for k in FITTED}
    wrong = {**truth, "wtp_median_cents": 4 * truth["wtp_median_cents"],
             "engagement_median": min(0.9, 2 * truth["engagement_median"])}
    told: list[tuple[str, int, int]] = []
    near = misfit(root, rid, truth, workers=1, progress=lambda *a: told.append(a))
    far = misfit(root, rid, wrong, workers=1)
    assert told == [("simulating", i, 3) for i in range(4)]
    assert near.score < far.score / 3, (near.score, far.score)
    assert near.score < 2 * near.expected  # near what the source's own behaviour scores on average
    assert misfit(root, rid, truth, workers=1) == near


def test_two_calibrations_of_the_same_source_and_seed_agree(small_source, small_fit):
    root, rid = small_source
    again = calibrate(root, rid, workers=1, design_users=300)
    assert again.behaviour == small_fit.behaviour and again.intervals == small_fit.intervals


def test_a_calibration_fills_every_behaviour_parameter_and_an_interval_per_estimate(small_fit):
    from sim.behaviour import Behaviour
    from sim.calibrate import FITTED, READ_OFF

    assert set(small_fit.behaviour) == set(Behaviour.model_fields)
    assert set(small_fit.intervals) == set(FITTED) | set(READ_OFF)
    for name, (lo, hi) in small_fit.intervals.items():
        assert lo <= hi, name
    assert small_fit.users == 400 and (small_fit.to_day - small_fit.from_day).days == 13
    assert small_fit.fit_error >= 0


def test_the_calibrated_scenario_file_loads_back_with_the_fitted_behaviour_and_provenance(small_fit, tmp_path):
    path = tmp_path / "calibrated.toml"
    path.write_text(small_fit.to_toml())
    sc = load_scenario(path)
    assert sc.name == "calibrated"
    for name, value in small_fit.behaviour.items():
        assert getattr(sc.behaviour, name) == pytest.approx(value), name
    prov = sc.config.scenario["calibration"]
    assert prov["source"] == small_fit.source and prov["users"] == 400 and prov["days"] == 14
    assert set(prov["moments"]) == set(small_fit.moments)
    assert prov["defaults_kept"] and prov["code_version"]
    assert sc.population.users == 400 and sc.population.days == 14
    assert small_fit.scenario().behaviour == sc.behaviour


def _start():
    from sim import START

    return START.date()


# -- the command ------------------------------------------------------------------------------
def test_sim_calibrate_writes_the_scenario_and_prints_estimates_and_moments(small_source, tmp_path):
    from typer.testing import CliRunner

    from coinlab_cli.main import app

    root, rid = small_source
    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(app, ["sim", "calibrate", "--source", rid, "--warehouse", str(root), "--out", str(out),
                                   "--workers", "1", "--to", str(_start() + timedelta(days=9))])
    assert res.exit_code == 0, res.output
    assert "engagement_median" in res.output and "d7_retention" in res.output
    sc = load_scenario(out)
    assert sc.config.scenario["calibration"]["days"] == 10


def test_sim_calibrate_of_a_thin_source_exits_2_and_writes_nothing(small_source, tmp_path):
    from typer.testing import CliRunner

    from coinlab_cli.main import app

    root, rid = small_source
    out = tmp_path / "cal.toml"
    res = CliRunner().invoke(app, ["sim", "calibrate", "--source", rid, "--warehouse", str(root), "--out", str(out),
                                   "--to", str(_start() + timedelta(days=3))])
    assert res.exit_code == 2 and "at least 7" in res.output
    assert not out.exists()


def test_sim_misfit_scores_a_scenario_against_a_source_and_lists_the_moments_worst_first(small_source):
    from typer.testing import CliRunner

    from coinlab_cli.main import app

    root, rid = small_source
    res = CliRunner().invoke(app, ["sim", "misfit", "baseline", "--source", rid, "--warehouse", str(root),
                                   "--workers", "1", "--runs", "2"])
    assert res.exit_code == 0, res.output
    assert "d7_retention" in res.output and "misfit" in res.output and "scores about" in res.output
    bad = CliRunner().invoke(app, ["sim", "misfit", "baseline", "--source", "no-such-run", "--warehouse", str(root)])
    assert bad.exit_code == 2 and rid in bad.output


# -- parameter recovery -----------------------------------------------------------------------
# A population with known, non-default parameters (every fitted one moved off its default),
# defined once in bench/recovery.py (which measures the recovery at larger sources).
from bench.recovery import TRUE  # noqa: E402

RECOVERY_USERS, RECOVERY_DAYS = 3000, 60


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    sets = [f"behaviour.{k}={v}" for k, v in TRUE.items()]
    _, res = run(load_scenario("baseline", sets=sets), users=RECOVERY_USERS, days=RECOVERY_DAYS, seed=3, root=root)
    cal = calibrate(root, res.run_id, seed=1)
    _, again = run(cal.scenario(), seed=4, root=root, kind="calibrated")
    return root, res.run_id, again.run_id, cal


# Measured (seed 3, deterministic since user_features is sorted; each user on their own
# random stream): 16 of 17 intervals cover; newsletter_share (a sample proportion, its
# plain bootstrap interval) misses. Over sources drawn with seeds 3, 5 and 7 and
# calibration seeds 1 and 2 (bench/recovery.py --users 3000 --days 60): 98 of 102 with the
# efficient objective (95 with weights of 1/variance); 76 of 102 before the interval draws
# corrected the normal equations for the Jacobian's noise.
def test_recovery_at_least_eighty_percent_of_the_ninety_percent_intervals_hold_the_true_value(recovery):
    *_, cal = recovery
    covered = [k for k, v in TRUE.items() if cal.intervals[k][0] <= v <= cal.intervals[k][1]]
    for k, v in TRUE.items():  # the recovery table (shown with -s or on a failure)
        lo, hi = cal.intervals[k]
        print(f"{k:26s} true {v:<7g} estimate {cal.behaviour[k]:<8.4g} 90% [{lo:.4g}, {hi:.4g}] "
              f"{'covered' if k in covered else 'MISSED'}")
    assert set(TRUE) <= set(cal.intervals)
    assert len(covered) >= 0.8 * len(TRUE), sorted(set(TRUE) - set(covered))


@pytest.mark.xfail(strict=True, reason="missed: novelty_decay -38%, price_sensitivity +28%, trait_correlation -25%; "
                   "the data's limit at this size, not the fit's (the next test): the estimate fits the source better "
                   "than the true parameters do. Two of six 3000 x 60 fits meet it (bench/recovery.py, "
                   "docs/calibration.md)")
def test_recovery_no_estimate_is_off_by_more_than_a_quarter(recovery):
    *_, cal = recovery
    off = {k: round(cal.behaviour[k] / v - 1, 3) for k, v in TRUE.items() if abs(cal.behaviour[k] / v - 1) > 0.25}
    assert not off


# Measured on this source (three runs pooled each): the estimate 22.9, the true parameters
# 38.8; with calibration seed 2, whose estimate has wtp_median_cents -68%, 18.1 against
# 50.5 (with weights of 1/variance, 50.5 against 48.7). So no estimator matching these moments could
# be expected to land nearer the truth on this source: what tells the two apart is below
# the noise of 3000 users. It fails when the fit stops short of what the data allow (at
# 20k x 90, calibration seeds 2-4 scored 47, 56 and 82 against the truth's 24, 30 and 48).
def test_recovery_the_estimate_fits_its_source_as_well_as_the_true_parameters_do(recovery):
    from sim.calibrate import FITTED, misfit

    root, source, _, cal = recovery
    fitted_truth = {k: v for k, v in TRUE.items() if k in FITTED}  # the shares read off the data, as the estimate's
    estimate, truth = misfit(root, source, cal.behaviour).score, misfit(root, source, fitted_truth).score
    print(f"misfit: estimate {estimate:.1f}, truth {truth:.1f}")  # shown with -s or on a failure
    assert estimate <= 1.25 * truth, (estimate, truth)


# Measured: D7 retention +2.4%, payer conversion 3.09% against 3.08% (+0.4%), daily actives
# +5.7% (with weights of 1/variance: -10.3%, -2.9% and -0.8%). Before the dry-days moments: conversion -11.3% here, -9.6% and -14.8% on sources of
# seeds 5 and 7; before the users' own streams, calibrating with seed 2 gave conversion -18%.
def test_the_calibrated_model_reproduces_d7_retention_conversion_and_daily_actives(recovery):
    from dashboards import metrics
    from dashboards.warehouse import connect

    root, source, calibrated, _ = recovery
    con = connect(root)
    src, fit = metrics.facts(con, source), metrics.facts(con, calibrated)

    def dau(run_id: str) -> float:
        return float(metrics.daily_active(con, run_id)["active"].mean())

    assert fit.retention[7] == pytest.approx(src.retention[7], rel=0.15)
    assert fit.conversion == pytest.approx(src.conversion, rel=0.15)
    assert dau(calibrated) == pytest.approx(dau(source), rel=0.15)
