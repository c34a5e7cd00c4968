"""What every analyst notebook shares: where the warehouse is, how big the runs are,
and `ensure_run`, which simulates a run only when the warehouse does not have it yet.

Environment:

- ``COINLAB_WAREHOUSE``: the warehouse root (default: the repository's data/warehouse).
- ``COINLAB_NB_USERS`` / ``COINLAB_NB_DAYS``: users and days per run (default: each
  scenario's own); CI sets them small.
- ``COINLAB_NB_SEEDS``: seeds per grid point (default 10: an answer carries a 95% interval
  across seeds, and variants are compared on the same seeds, `paired`).

A run's id is derived from its scenario, parameters and seed (`sim.runner.make_run_id`),
so a notebook that asks for the same run twice finds it the second time.

`ensure_sweep` runs named variants on the same seeds through the experiment machinery
(`sim.runner.experiment`, in parallel worker processes) and reads the warehouse's
``sweeps`` table back; a sweep's id is derived from what defines it, so a second
execution reads it instead of simulating again. `values`, `pair` and `sweep_summary`
turn its rows into per-seed figures, paired differences and a table of intervals."""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl

from dashboards.warehouse import connect
from sim.runner import make_run_id, run
from sim.scenario import load_scenario
from sim.warehouse import DEFAULT_ROOT

__all__ = ["DAYS", "SEEDS", "USERS", "WAREHOUSE", "WORKERS", "Interval", "connect_warehouse", "ensure_run",
           "ensure_sweep", "interval", "pair", "paired", "query", "run_summary", "strip_outputs", "sweep_summary",
           "values"]


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


WAREHOUSE = Path(os.environ.get("COINLAB_WAREHOUSE") or DEFAULT_ROOT)
USERS = _int_env("COINLAB_NB_USERS")
DAYS = _int_env("COINLAB_NB_DAYS")
SEEDS = _int_env("COINLAB_NB_SEEDS") or 10
WORKERS = _int_env("COINLAB_NB_WORKERS") or 2


class Interval(NamedTuple):
    """A mean across seeds and its 95% interval (Student's t; the mean itself when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def fmt(self, spec: str = ",.2f") -> str:
        if self.n < 2:
            return f"{self.mean:{spec}} (1 seed, no interval)"
        return f"{self.mean:{spec}} [95% CI {self.low:{spec}}, {self.high:{spec}}; {self.n} seeds]"


def interval(values: Sequence[float]) -> Interval:
    """Mean and 95% interval of per-seed figures."""
    xs = [float(v) for v in values]
    n = len(xs)
    mean = statistics.fmean(xs) if xs else float("nan")
    if n < 2:
        return Interval(mean, mean, mean, n)
    from scipy.stats import t

    half = t.ppf(0.975, n - 1) * statistics.stdev(xs) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired(variant: Sequence[float], control: Sequence[float]) -> Interval:
    """The variant's difference from the control, seed by seed (common random numbers),
    with its 95% interval: tighter than comparing two separate intervals."""
    return interval([v - c for v, c in zip(variant, control, strict=True)])


def ensure_run(scenario: str, sets: Sequence[str] = (), seed: int = 1) -> str:
    """The run id of ``scenario`` with ``sets`` (``key=value`` overrides) and ``seed`` at
    the notebook's size, simulating it into the warehouse first if it is not there."""
    sc = load_scenario(scenario, sets=list(sets))
    upd = {k: v for k, v in (("users", USERS), ("days", DAYS), ("seed", seed)) if v is not None}
    pop = sc.population.model_copy(update=upd)
    run_id = make_run_id(sc.model_copy(update={"population": pop}), pop.seed)
    if not any((WAREHOUSE / "runs" / f"run_id={run_id}").glob("*.parquet")):
        run(sc, users=USERS, days=DAYS, seed=seed, root=WAREHOUSE, run_id=run_id)
    return run_id


def ensure_sweep(scenario: str, variants: Mapping[str, Sequence[str]]) -> pl.DataFrame:
    """Every variant (name -> ``key=value`` overrides) of ``scenario`` on seeds
    1..`SEEDS` at the notebook's size, as the warehouse's ``sweeps`` rows (sweep, variant,
    seed, metric, value). Simulated first (`WORKERS` processes; only the sweeps table is
    written) unless the warehouse already has this sweep."""
    from sim.experiment import Variant, build_variants, sweep_id
    from sim.runner import experiment

    named = [Variant(name, tuple(sets)) for name, sets in variants.items()]
    built, control = build_variants(scenario, variants=named)  # checks every key before anything runs
    sid = sweep_id(scenario, built, list(range(1, SEEDS + 1)), USERS, DAYS)
    if not any((WAREHOUSE / "sweeps" / f"run_id={sid}").glob("*.parquet")):
        experiment(scenario, built, control, SEEDS, workers=WORKERS, users=USERS, days=DAYS, root=WAREHOUSE,
                   write_runs=False)
    return query(connect_warehouse(), "SELECT sweep, variant, seed, metric, value FROM sweeps WHERE sweep = ? "
                 "ORDER BY variant, metric, seed", [sid])


def values(rows: pl.DataFrame, variant: str, metric: str) -> dict[int, float]:
    """One variant's figure per seed (a seed without the figure, e.g. no spread on a
    one-sided book, is absent)."""
    sel = rows.filter((pl.col("variant") == variant) & (pl.col("metric") == metric)).sort("seed")
    return dict(zip(sel["seed"].to_list(), sel["value"].to_list(), strict=True))


def pair(rows: pl.DataFrame, variant: str, control: str, metric: str) -> Interval:
    """``variant`` minus ``control`` on ``metric``, seed by seed on the seeds both have."""
    v, c = values(rows, variant, metric), values(rows, control, metric)
    common = sorted(set(v) & set(c))
    return paired([v[s] for s in common], [c[s] for s in common])


def sweep_summary(rows: pl.DataFrame, metrics: Sequence[str], control: str | None = None) -> pl.DataFrame:
    """Per variant and metric: mean with its 95% interval across seeds and, against
    ``control``, the paired difference with its interval."""
    out = []
    for variant in dict.fromkeys(rows["variant"].to_list()):
        for m in metrics:
            iv = interval(list(values(rows, variant, m).values()))
            d = pair(rows, variant, control, m) if control and variant != control else None
            out.append({"variant": variant, "metric": m, "mean": iv.mean, "ci_low": iv.low, "ci_high": iv.high,
                        "seeds": iv.n, "diff": d.mean if d else None, "diff_low": d.low if d else None,
                        "diff_high": d.high if d else None})
    return pl.DataFrame(out)


def connect_warehouse() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the warehouse views (call it after the runs exist)."""
    return connect(WAREHOUSE)


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """A SQL query over the warehouse views as a polars DataFrame (for what the metrics
    library does not compute: breakdowns by entry type or by agent role)."""
    return pl.from_arrow(con.sql(sql, params=list(params)).to_arrow_table())  # type: ignore[return-value]


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """The simulator's stress findings stored with the run (victims' losses, ring profit ...)."""
    rows = con.execute("SELECT summary FROM runs WHERE run_id = ?", [run_id]).fetchall()
    return json.loads(rows[0][0]) if rows and rows[0][0] else {}


def strip_outputs(path: str | Path) -> None:
    """Clear a notebook's outputs and execution counts (how they are committed)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, path)


if __name__ == "__main__":  # python nblib.py strip *.ipynb
    if sys.argv[1:2] != ["strip"]:
        sys.exit("usage: python nblib.py strip NOTEBOOK.ipynb ...")
    for p in sys.argv[2:]:
        strip_outputs(p)
