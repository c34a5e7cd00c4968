"""What the notebooks compute their answers with: per-seed figures from sweeps rows,
paired differences on common seeds, and intervals that say how many seeds they rest on."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "notebooks"))
import nblib  # noqa: E402


def _rows(data: dict[tuple[str, int], float], metric: str = "m") -> pl.DataFrame:
    return pl.DataFrame({"sweep": ["s"] * len(data), "variant": [v for v, _ in data], "seed": [s for _, s in data],
                         "metric": [metric] * len(data), "value": list(data.values())})


def test_an_interval_across_seeds_carries_its_bounds_and_seed_count():
    text = nblib.interval([1.0, 2.0, 3.0]).fmt(".1f")
    assert text.startswith("2.0 [95% CI ") and "3 seeds" in text


def test_one_seed_says_it_has_no_interval():
    assert nblib.interval([5.0]).fmt(".0f") == "5 (1 seed, no interval)"


def test_values_are_per_seed_for_one_variant_and_metric():
    rows = _rows({("a", 2): 20.0, ("a", 1): 10.0, ("b", 1): 1.0})
    assert nblib.values(rows, "a", "m") == {1: 10.0, 2: 20.0}


def test_pair_differences_only_the_seeds_both_variants_have():
    rows = _rows({("a", 1): 10.0, ("a", 2): 14.0, ("a", 3): 99.0, ("c", 1): 9.0, ("c", 2): 11.0})
    d = nblib.pair(rows, "a", "c", "m")
    assert d.n == 2 and d.mean == pytest.approx(2.0)


def test_sweep_summary_gives_the_control_no_difference():
    rows = _rows({("c", 1): 1.0, ("c", 2): 3.0, ("a", 1): 2.0, ("a", 2): 4.0})
    table = nblib.sweep_summary(rows, ["m"], "c")
    by = {r["variant"]: r for r in table.iter_rows(named=True)}
    assert by["c"]["diff"] is None and by["a"]["diff"] == pytest.approx(1.0)
    assert by["a"]["ci_low"] < by["a"]["mean"] < by["a"]["ci_high"]
