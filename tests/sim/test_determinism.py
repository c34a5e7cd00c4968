"""A seed fixes the run: identical warehouse bytes for the same seed, different data for another."""

from __future__ import annotations

import gc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim import EconomyModel, load_scenario, run
from sim.scenario import list_scenarios
from sim.warehouse import RUN_TABLES


def _files(result) -> dict[str, bytes]:
    return {table: Path(p).read_bytes() for table, p in result.paths.items()}


def _run(root, seed, scenario="pump_and_dump"):
    return run(load_scenario(scenario), users=80, days=5, seed=seed, root=root)[1]


def test_the_same_seed_writes_byte_identical_parquet(tmp_path):
    a, b = _run(tmp_path / "a", 3), _run(tmp_path / "b", 3)
    assert a.run_id == b.run_id
    assert set(a.paths) == set(RUN_TABLES)
    assert _files(a) == _files(b)


def test_different_seeds_differ(tmp_path):
    a, b = _run(tmp_path / "a", 3), _run(tmp_path / "b", 4)
    assert a.run_id != b.run_id
    ea = pq.read_table(a.paths["entries"]).drop_columns(["run_id"])
    eb = pq.read_table(b.paths["entries"]).drop_columns(["run_id"])
    assert not ea.equals(eb)
    assert a.summary["issued"] != b.summary["issued"] or a.summary["trades"] != b.summary["trades"]



def test_a_day_runs_without_the_cyclic_collector_and_gives_it_back():
    """The model switches automatic collection off while a day runs (EconomyModel.step);
    the process it runs in (a test, the CLI, a dashboard's sweep) gets it back, also when
    the day fails."""
    model = EconomyModel(load_scenario("baseline"), users=30, days=2, seed=1)
    seen = []
    model.env.process(_watch(model.env, seen))
    assert gc.isenabled()
    model.step()
    assert seen == [False]
    assert gc.isenabled()

    def fail():
        raise RuntimeError("a day that fails")
        yield  # pragma: no cover  (a generator: a SimPy process)

    model.env.process(fail())
    with pytest.raises(RuntimeError, match="a day that fails"):
        model.step()
    assert gc.isenabled()


def _watch(env, seen):
    yield env.timeout(1)
    seen.append(gc.isenabled())


@pytest.mark.parametrize("scenario", list_scenarios())
def test_a_simulated_day_leaves_no_reference_cycles(scenario, monkeypatch):
    """What lets a day run without the cyclic collector: everything a day lets go of is
    freed by reference counting. The model freezes the heap at each day's end; collecting
    just before that finds every cycle the day left behind, and there must be none."""
    found = []
    freeze = gc.freeze

    def collect_then_freeze():
        found.append(gc.collect())
        freeze()

    monkeypatch.setattr(gc, "freeze", collect_then_freeze)
    gc.collect()
    model = EconomyModel(load_scenario(scenario), users=150, days=8, seed=2)
    model.run_days()
    gc.unfreeze()
    assert len(found) == 8
    assert found == [0] * 8
