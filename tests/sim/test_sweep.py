"""Sweeps: grid x seeds in parallel processes (and on a local Ray instance), summarised
with mean and spread across seeds."""

from __future__ import annotations

import pytest

from sim.runner import _grid, sweep, sweep_summary
from sim.warehouse import read_table

SMALL = dict(users=30, days=3)


def test_the_grid_is_every_combination():
    assert _grid(["a.b=1,2", "c=x,y,z"]) == [[f"a.b={i}", f"c={j}"] for i in (1, 2) for j in ("x", "y", "z")]
    assert _grid([]) == [[]]
    with pytest.raises(ValueError):
        _grid(["nope"])


def test_a_local_sweep_runs_each_point_and_seed_in_worker_processes(tmp_path):
    results = sweep("daily10", ["rewards.daily_login=2,10"], 2, workers=2, root=tmp_path, **SMALL)
    assert [(r["point"], r["seed"]) for r in results] == [
        (["rewards.daily_login=2"], 1), (["rewards.daily_login=2"], 2),
        (["rewards.daily_login=10"], 1), (["rewards.daily_login=10"], 2)]
    assert len({r["run_id"] for r in results}) == 4
    assert len(list((tmp_path / "runs").glob("run_id=*/part-0.parquet"))) == 4
    assert set(read_table(tmp_path, "runs").column("kind").to_pylist()) == {"sweep"}
    stats = sweep_summary(results)
    low, high = (s["free_issued"]["mean"] for s in stats)
    assert high > low and stats[0]["seeds"] == 2 and stats[0]["free_issued"]["std"] >= 0


def test_a_sweep_equals_the_runs_it_is_made_of(tmp_path):
    from sim.runner import run_scenario

    [r] = sweep("baseline", [], 1, workers=1, root=None, **SMALL)
    assert r["summary"] == run_scenario("baseline", seed=1, root=None, **SMALL).summary


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        sweep("baseline", [], 1, backend="spark", root=None, **SMALL)


def test_the_ray_backend_gives_the_local_results():
    # ray is locked in requirements.lock, so CI always exercises a real local Ray instance.
    ray_results = sweep("baseline", ["rewards.daily_login=2,3"], 1, workers=2, backend="ray", root=None, **SMALL)
    local = sweep("baseline", ["rewards.daily_login=2,3"], 1, workers=2, root=None, **SMALL)
    assert [r["summary"] for r in ray_results] == [r["summary"] for r in local]
