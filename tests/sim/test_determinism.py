"""A seed fixes the run: identical warehouse bytes for the same seed, different data for another."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim import load_scenario, run
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


def test_a_day_leaves_the_callers_garbage_collector_as_it_found_it():
    """The model collects rarely while a day runs (sim.model.DAY_GC_THRESHOLDS); the
    process it runs in (a test, the CLI, a dashboard's sweep) gets its own settings back,
    also when the day fails."""
    import gc

    from sim import EconomyModel
    from sim.model import DAY_GC_THRESHOLDS

    before = gc.get_threshold()
    assert before != DAY_GC_THRESHOLDS
    model = EconomyModel(load_scenario("baseline"), users=30, days=2, seed=1)
    seen = []
    model.env.process(_watch(model.env, seen))
    model.step()
    assert seen == [DAY_GC_THRESHOLDS]
    assert gc.get_threshold() == before

    def fail():
        raise RuntimeError("a day that fails")
        yield  # pragma: no cover  (a generator: a SimPy process)

    model.env.process(fail())
    with pytest.raises(RuntimeError, match="a day that fails"):
        model.step()
    assert gc.get_threshold() == before


def _watch(env, seen):
    import gc

    yield env.timeout(1)
    seen.append(gc.get_threshold())
