"""Experiments: variants from a file, grids and zipped axes, common random numbers,
intervals and paired differences, the sweeps table."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from sim.experiment import (
    ExperimentError,
    Variant,
    build_variants,
    check_metrics,
    interval,
    load_variants,
    paired,
    pareto_frontier,
    summarize_experiment,
    zipped,
)
from sim.runner import experiment, run_scenario
from sim.scenario import load_scenario
from sim.summary import SCALAR_METRICS, flat_metrics, metric_names

SMALL = dict(users=30, days=3)


def test_a_variants_file_gives_named_sets_of_overrides_and_a_control(tmp_path):
    f = tmp_path / "v.toml"
    f.write_text('control = "current"\n'
                 '[variant.current]\n'
                 '[variant.steep]\n'
                 'packages.small.bonus_coins = 50\n'
                 '"packages.xl.bonus_coins" = 4000\n'
                 '[variant.steep.promos.FIRST50]\nactive = false\n')
    variants, control = load_variants(f)
    assert control == "current"
    assert variants == [Variant("current", ()),
                        Variant("steep", ("packages.small.bonus_coins=50", "packages.xl.bonus_coins=4000",
                                          "promos.FIRST50.active=false"))]
    built, ctrl = build_variants("package_pricing", variants=variants, control=control)
    assert ctrl == "current" and [v.name for v in built] == ["current", "steep"]
    cfg = load_scenario("package_pricing", sets=list(built[1].sets)).config
    assert cfg.packages["xl"].bonus_coins == 4000 and not cfg.promos["FIRST50"].active


def test_a_variant_with_an_unknown_key_is_refused_naming_variant_and_key(tmp_path):
    f = tmp_path / "v.toml"
    f.write_text('[variant.ok]\n[variant.bad]\npackages.small.bonus_coin = 50\n')
    variants, _ = load_variants(f)
    with pytest.raises(ExperimentError, match="variant 'bad'.*bonus_coin"):
        build_variants("baseline", variants=variants)


def test_a_variants_file_with_an_unknown_top_level_key_is_refused(tmp_path):
    f = tmp_path / "v.toml"
    f.write_text('controll = "a"\n[variant.a]\n')
    with pytest.raises(ExperimentError, match="controll"):
        load_variants(f)


def test_zipped_axes_move_together_and_must_have_the_same_length():
    assert zipped(["a.b=1,2", "c.d=x,y"]) == [["a.b=1", "c.d=x"], ["a.b=2", "c.d=y"]]
    with pytest.raises(ExperimentError, match="same number of values"):
        zipped(["a.b=1,2", "c.d=x,y,z"])


def test_variants_are_the_product_of_named_variants_grid_and_zipped_points():
    built, control = build_variants("baseline", variants=[Variant("a", ()), Variant("b", ("rewards.signup=6",))],
                                    grid=["rewards.daily_login=2,3"], zip_axes=["rewards.streak_bonus=10,20",
                                                                                 "rewards.streak_days=7,5"])
    assert len(built) == 2 * 2 * 2 and control == built[0].name
    assert built[-1] == Variant("b | rewards.daily_login=3 rewards.streak_bonus=20 rewards.streak_days=5",
                                ("rewards.signup=6", "rewards.daily_login=3", "rewards.streak_bonus=20",
                                 "rewards.streak_days=5"))


def test_an_unknown_control_is_refused():
    with pytest.raises(ExperimentError, match="unknown control"):
        build_variants("baseline", grid=["rewards.daily_login=2,3"], control="nope")


def test_an_unknown_metric_is_refused_listing_the_known_ones():
    with pytest.raises(ExperimentError, match="unknown metric.*nope"):
        check_metrics("baseline", [Variant("x", ())], ["victims_losses", "nope"])
    assert "revenue_cents_by_package.xl" in check_metrics("baseline", [Variant("x", ())], [])


def test_the_interval_covers_the_mean_and_shrinks_with_agreement():
    wide, tight = interval([1, 5, 9, 3]), interval([4, 4.5, 5, 4.5])
    assert wide.low < wide.mean < wide.high and wide.n == 4
    assert tight.high - tight.low < wide.high - wide.low
    assert interval([7]) == (7.0, 7.0, 7.0, 1)


def test_a_paired_difference_removes_what_the_seeds_share():
    control = [100.0, 200.0, 300.0, 400.0]
    variant = [c + 10 + (i % 2) for i, c in enumerate(control)]
    d = paired(variant, control)
    assert d.low > 0 and abs(d.mean - 10.5) < 1e-9
    separate = interval(variant)
    assert d.high - d.low < separate.high - separate.low


def test_the_pareto_frontier_keeps_only_the_undominated_points():
    pts = {"none": (100.0, 1.0), "band": (10.0, 0.7), "all": (1.0, 0.2), "bad": (50.0, 0.5), "tie": (10.0, 0.6)}
    assert pareto_frontier(pts) == ["all", "band", "none"]


def test_every_summary_figure_is_a_known_metric_and_every_known_metric_is_reported():
    sc = load_scenario("pump_and_dump")
    summary = run_scenario("pump_and_dump", seed=1, root=None, users=40, days=3).summary
    flat = flat_metrics(summary)
    assert set(flat) == metric_names(sc)
    assert all(isinstance(summary.get(k), int | float | type(None)) for k in SCALAR_METRICS)


def test_an_experiment_runs_every_variant_on_the_same_seeds_and_writes_the_sweeps_table(tmp_path):
    variants, control = build_variants("baseline", grid=["rewards.daily_login=2,10"])
    exp = experiment("baseline", variants, control, 2, workers=2, root=tmp_path, write_runs=False, **SMALL)
    assert [(r["variant"], r["seed"]) for r in exp.results] == [
        ("rewards.daily_login=2", 1), ("rewards.daily_login=2", 2),
        ("rewards.daily_login=10", 1), ("rewards.daily_login=10", 2)]
    # common random numbers: the same users arrive in both variants of a seed
    arrivals = {(r["variant"], r["seed"]): r["metrics"]["arrivals"] for r in exp.results}
    assert arrivals[("rewards.daily_login=2", 1)] == arrivals[("rewards.daily_login=10", 1)]
    table = pq.read_table(exp.path).to_pylist()
    assert {r["sweep"] for r in table} == {exp.sweep}
    assert {(r["variant"], r["seed"]) for r in table if r["metric"] == "free_issued"} == set(arrivals)
    assert not (tmp_path / "entries").exists()  # write_runs=False: only the sweeps table
    [ctrl, high] = [s for s in summarize_experiment(exp.results, ["free_issued"], control)]
    assert ctrl.diff is None and high.diff is not None and high.diff.mean > 0 and high.value.n == 2


def test_an_experiment_with_an_unknown_metric_runs_nothing(tmp_path):
    with pytest.raises(ExperimentError):
        experiment("baseline", [Variant("x", ())], "x", 1, root=tmp_path, metrics=["nope"], **SMALL)
    assert not list(tmp_path.iterdir())


def test_an_experiment_on_ray_gives_the_local_results(tmp_path):
    # ray is locked in requirements.lock: CI always exercises a real local Ray instance.
    variants, control = build_variants("baseline", grid=["rewards.daily_login=2,3"])
    on_ray = experiment("baseline", variants, control, 2, workers=2, backend="ray", root=tmp_path / "a",
                        write_runs=False, **SMALL)
    local = experiment("baseline", variants, control, 2, workers=2, root=tmp_path / "b", write_runs=False, **SMALL)
    assert on_ray.sweep == local.sweep
    assert [r["metrics"] for r in on_ray.results] == [r["metrics"] for r in local.results]
    assert pq.read_table(on_ray.path).drop(["source"]).equals(pq.read_table(local.path).drop(["source"]))


def test_the_committed_package_schedules_file_is_a_valid_experiment():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "variants" / "package_schedules.toml"
    named, control = load_variants(path)
    variants, ctrl = build_variants("package_pricing", variants=named, control=control)
    assert ctrl == "current" and [v.name for v in variants] == ["current", "no_bonus", "flat_10pct", "steep_no_pro"]
    flat = load_scenario("package_pricing", sets=list(variants[2].sets))
    assert flat.config.packages["xl"].bonus_coins == 1000
