"""Experiments: named variants, grids and zipped axes, run on common random numbers.

A *variant* is a named set of ``key=value`` overrides on a scenario (a whole package
schedule is one variant, not five grid axes). An experiment is a list of variants x
seeds ``first_seed .. first_seed + seeds - 1``; every variant runs on the same seeds, so
two variants are compared seed by seed (common random numbers: the same arrivals, and
each user, drawing from their own stream, the same traits and draws until the variant's
rules reach them), and the paired difference has a tighter interval than two separate
means (bench/crn.py measures by how much).

Where the variants come from (`build_variants`), combined as a product:

- a variants file (TOML): ``control = "name"`` (optional) and one ``[variant.<name>]``
  table per variant, whose keys are dotted config keys (``packages.small.bonus_coins
  = 50``, or nested tables);
- ``--grid key=v1,v2,...``: every combination of the axes;
- ``--zip key=v1,v2,...``: axes that move together (the i-th values of every zipped
  axis form one point), all the same length.

Results are per (variant, seed, metric) values: `sweep_rows` is the warehouse's
``sweeps`` table, `summarize_experiment` gives per metric the mean with its 95%
interval across seeds and the paired difference from the control with its interval,
and `pareto_frontier` picks the non-dominated variants of two metrics (the defense
frontier of victims' losses against honest volume kept).

Every check (unknown metric, unknown key in a variant, zipped axes of different
lengths, an unknown control) raises `ExperimentError` before anything runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ledger.economy.config import ConfigError

from .scenario import load_scenario, parse_assignment
from .summary import metric_names

__all__ = [
    "ExperimentError",
    "FrontierPoint",
    "Interval",
    "MetricSummary",
    "Variant",
    "build_variants",
    "check_metrics",
    "flatten_overrides",
    "frontier_points",
    "grid_points",
    "interval",
    "load_variants",
    "paired",
    "pareto_frontier",
    "sweep_id",
    "sweep_rows",
    "summarize_experiment",
    "zipped",
]


class ExperimentError(ValueError):
    """An experiment that cannot run as asked; the message names what is wrong."""


class Variant(NamedTuple):
    """One arm of an experiment: a name and the ``key=value`` overrides that make it."""

    name: str
    sets: tuple[str, ...]


# -- 95% intervals ------------------------------------------------------------------------
# Student's t, two-sided 95%, by degrees of freedom (1..30); beyond, the normal's 1.96
# is within 2% of it.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("degrees of freedom must be >= 1")
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


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

    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.low > 0 or self.high < 0)


def interval(values: Iterable[float]) -> Interval:
    """Mean and 95% interval of per-seed figures."""
    xs = [float(v) for v in values]
    n = len(xs)
    mean = statistics.fmean(xs) if xs else float("nan")
    if n < 2:
        return Interval(mean, mean, mean, n)
    half = t975(n - 1) * statistics.stdev(xs) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired(variant: Sequence[float], control: Sequence[float]) -> Interval:
    """The variant's difference from the control, seed by seed, with its 95% interval."""
    if len(variant) != len(control):
        raise ExperimentError(f"paired difference needs the same seeds: {len(variant)} vs {len(control)} values")
    return interval([v - c for v, c in zip(variant, control, strict=True)])


# -- variants -------------------------------------------------------------------------------
def _literal(value: Any) -> str:
    """A value as the TOML literal `parse_assignment` reads back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise ExperimentError(f"cannot use {value!r} as an override value")


def flatten_overrides(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    """A nested table of overrides as ``dotted.key=literal`` strings."""
    out: list[str] = []
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out += flatten_overrides(value, dotted)
        else:
            out.append(f"{dotted}={_literal(value)}")
    return out


def load_variants(path: str | Path) -> tuple[list[Variant], str | None]:
    """Read a variants file: ``([Variant ...], control name or None)``."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ExperimentError(f"variants file not found: {p}") from None
    except tomllib.TOMLDecodeError as err:
        raise ExperimentError(f"{p}: not valid TOML: {err}") from None
    unknown = sorted(set(data) - {"control", "variant"})
    if unknown:
        raise ExperimentError(f"{p}: unknown top-level key(s) {unknown}: expected 'control' and [variant.<name>] tables")
    tables = data.get("variant")
    if not isinstance(tables, dict) or not tables:
        raise ExperimentError(f"{p}: no variants: add one [variant.<name>] table per variant")
    variants = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ExperimentError(f"{p}: variant.{name} must be a table of overrides")
        variants.append(Variant(name, tuple(flatten_overrides(table))))
    control = data.get("control")
    if control is not None and not isinstance(control, str):
        raise ExperimentError(f"{p}: control must be a variant name")
    return variants, control


def _axis(spec: str) -> tuple[str, list[str]]:
    key, _, values = spec.partition("=")
    if not key or not values:
        raise ExperimentError(f"an axis must be key=v1,v2,..., got {spec!r}")
    items = [v.strip() for v in values.split(",")]
    try:
        parse_assignment(f"{key}={items[0]}")
    except ConfigError as err:
        raise ExperimentError(str(err)) from None
    return key.strip(), items


def grid_points(grid: Sequence[str]) -> list[list[str]]:
    """``["a=1,2", "b=x,y"]`` -> every combination as ``key=value`` lists."""
    axes = [[f"{k}={v}" for v in vs] for k, vs in map(_axis, grid)]
    return [list(c) for c in itertools.product(*axes)] if axes else [[]]


def zipped(axes: Sequence[str]) -> list[list[str]]:
    """``["a=1,2", "b=x,y"]`` -> ``[["a=1", "b=x"], ["a=2", "b=y"]]``; every axis the same length."""
    if not axes:
        return [[]]
    parsed = [_axis(a) for a in axes]
    lengths = {k: len(vs) for k, vs in parsed}
    if len(set(lengths.values())) > 1:
        raise ExperimentError(f"zipped axes must have the same number of values, got {lengths}")
    return [[f"{k}={vs[i]}" for k, vs in parsed] for i in range(len(parsed[0][1]))]


def build_variants(scenario: str, *, variants: Sequence[Variant] = (), grid: Sequence[str] = (),
                   zip_axes: Sequence[str] = (), sets: Sequence[str] = (),
                   control: str | None = None) -> tuple[list[Variant], str]:
    """The experiment's variants (named variants x grid points x zipped points, each on
    top of ``sets``) and the control's name (``control``, else the first). Every variant
    is loaded once, so a bad key fails here, naming the variant."""
    named = list(variants) or [Variant("", ())]
    points = [g + z for g in grid_points(grid) for z in zipped(zip_axes)]
    out: list[Variant] = []
    for v in named:
        for point in points:
            label = " ".join(point)
            name = " | ".join(x for x in (v.name, label) if x) or "scenario"
            out.append(Variant(name, (*sets, *v.sets, *point)))
    names = [v.name for v in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ExperimentError(f"variant names must be unique, repeated: {dupes}")
    for v in out:
        try:
            load_scenario(scenario, sets=list(v.sets))
        except ConfigError as err:
            raise ExperimentError(f"variant {v.name!r}: {err}") from None
    if control is None:
        control = out[0].name
    elif control not in names:
        raise ExperimentError(f"unknown control variant {control!r}: expected one of {names}")
    return out, control


def check_metrics(scenario: str, variants: Sequence[Variant], metrics: Sequence[str]) -> list[str]:
    """The metrics the experiment can report; an unknown one is an error listing what exists."""
    known: set[str] = set()
    for v in variants:
        known |= metric_names(load_scenario(scenario, sets=list(v.sets)))
    bad = [m for m in metrics if m not in known]
    if bad:
        raise ExperimentError(f"unknown metric(s) {bad}: expected some of {sorted(known)}")
    return sorted(known)


def sweep_id(scenario: str, variants: Sequence[Variant], seeds: Sequence[int], users: int | None,
             days: int | None) -> str:
    """Derived from what defines the experiment: running it again writes the same partition."""
    spec = json.dumps([scenario, [list(v) for v in variants], list(seeds), users, days], sort_keys=True)
    return f"{Path(scenario).stem}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


# -- results --------------------------------------------------------------------------------
def sweep_rows(sweep: str, results: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The ``sweeps`` table's columns for results ``{"variant", "seed", "metrics"}``."""
    cols: dict[str, list[Any]] = {"sweep": [], "variant": [], "seed": [], "metric": [], "value": []}
    for r in results:
        for metric, value in sorted(r["metrics"].items()):
            if value is None:
                continue
            cols["sweep"].append(sweep)
            cols["variant"].append(r["variant"])
            cols["seed"].append(int(r["seed"]))
            cols["metric"].append(metric)
            cols["value"].append(float(value))
    return cols


class MetricSummary(NamedTuple):
    """One variant's metric across seeds, and (for a variant other than the control) its
    paired difference from the control on the seeds both have."""

    variant: str
    metric: str
    value: Interval
    diff: Interval | None


def _by(results: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[int, float]]:
    out: dict[tuple[str, str], dict[int, float]] = {}
    for r in results:
        for metric, value in r["metrics"].items():
            if value is not None:
                out.setdefault((r["variant"], metric), {})[int(r["seed"])] = float(value)
    return out


def summarize_experiment(results: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                         control: str) -> list[MetricSummary]:
    """Per variant (in the order they first appear) and metric: mean and 95% interval,
    and the paired difference from ``control``."""
    by = _by(results)
    variants = list(dict.fromkeys(r["variant"] for r in results))
    out = []
    for v in variants:
        for m in metrics:
            xs = by.get((v, m), {})
            value = interval(xs[s] for s in sorted(xs))
            diff = None
            if v != control:
                cs = by.get((control, m), {})
                common = sorted(set(xs) & set(cs))
                diff = paired([xs[s] for s in common], [cs[s] for s in common]) if common else None
            out.append(MetricSummary(v, m, value, diff))
    return out


def pareto_frontier(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """Names of the points no other point dominates, where ``(cost, benefit)``: lower cost
    and higher benefit are better; sorted by cost."""
    front = []
    for name, (c, b) in points.items():
        dominated = any(c2 <= c and b2 >= b and (c2 < c or b2 > b) for n2, (c2, b2) in points.items() if n2 != name)
        if not dominated:
            front.append(name)
    return sorted(front, key=lambda n: (points[n][0], -points[n][1]))


class FrontierPoint(NamedTuple):
    """One variant of a defense sweep: victims' losses and honest volume (means over
    seeds, with the paired differences from the control), the share of the control's
    honest volume kept and of its losses cut, and whether it is on the Pareto frontier."""

    variant: str
    losses: Interval
    honest: Interval
    losses_diff: Interval | None
    honest_diff: Interval | None
    kept: float | None
    cut: float | None
    on_frontier: bool


def frontier_points(results: Sequence[Mapping[str, Any]], control: str, *, loss: str = "victims_losses",
                    benefit: str = "honest_volume_coin") -> list[FrontierPoint]:
    """Every variant as a `FrontierPoint`, frontier first (by losses), then the rest."""
    stats = {(s.variant, s.metric): s for s in summarize_experiment(results, [loss, benefit], control)}
    variants = list(dict.fromkeys(r["variant"] for r in results))
    base_loss, base_honest = stats[(control, loss)].value.mean, stats[(control, benefit)].value.mean
    front = set(pareto_frontier({v: (stats[(v, loss)].value.mean, stats[(v, benefit)].value.mean)
                                 for v in variants}))
    out = []
    for v in variants:
        lo, be = stats[(v, loss)], stats[(v, benefit)]
        out.append(FrontierPoint(
            v, lo.value, be.value, lo.diff, be.diff,
            be.value.mean / base_honest if base_honest else None,
            1 - lo.value.mean / base_loss if base_loss else None, v in front))
    return sorted(out, key=lambda p: (not p.on_frontier, p.losses.mean, -p.honest.mean))
