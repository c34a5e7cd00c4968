"""What the Scenarios page does besides drawing: the economy knobs it offers, running a
scenario (and its unchanged baseline) through the simulator's Python API, and the
side-by-side table of run summaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl

from .metrics import warm
from .warehouse import connect

__all__ = ["COMPARED", "KNOBS", "Knob", "changes", "compare", "defaults", "run_with_baseline", "runs",
           "scenario_names"]


class Knob(NamedTuple):
    """An economy parameter the page exposes: ``key`` is the dotted config key
    (``--set key=value``), ``kind`` "int" (coins or cents) or "bool"."""

    key: str
    label: str
    kind: str
    help: str


KNOBS = (
    Knob("rewards.daily_login", "Daily login reward", "int", "coins minted per UTC day a user logs in"),
    Knob("rewards.streak_bonus", "Streak bonus", "int", "coins for every full login streak"),
    Knob("spend.vote", "Vote cost", "int", "coins a vote costs"),
    Knob("spend.deep_analysis_unlock", "Unlock cost", "int", "coins a deep-analysis unlock costs"),
    Knob("packages.xl.bonus_coins", "XL bonus coins", "int", "bonus coins with the XL package"),
    Knob("spend.burn", "Burn spent coins", "bool", "spent coins are destroyed instead of going to the platform"),
)

# The summary figures compared side by side (keys of the run's summary).
COMPARED = ("users", "days", "seed", "issued", "burned", "circulating", "supply_growth_pct", "gini",
            "top1_share", "revenue_cents", "paid_sessions", "logins", "trades", "defenses_fired",
            "detector_alerts", "victims_losses", "sybil_farmed")


def scenario_names() -> list[str]:
    from sim import list_scenarios

    return list_scenarios()


def defaults(name: str) -> dict[str, Any]:
    """Each knob's value in scenario ``name`` as configured."""
    from sim import load_scenario

    cfg = load_scenario(name).config.to_dict()
    out = {}
    for knob in KNOBS:
        node: Any = cfg
        for part in knob.key.split("."):
            node = node[part]
        out[knob.key] = node
    return out


def changes(base: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides for the knobs that differ from the scenario's values."""
    return [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items() if base.get(k) != v]


def run_with_baseline(root: str | Path, name: str, sets: list[str], users: int, days: int, seed: int, *,
                      on_progress: Callable[[float, str], None] | None = None) -> list[str]:
    """Simulate ``name`` with ``sets`` into the warehouse and, unless it is already there,
    the unchanged scenario with the same population and seed. Returns [baseline, new]
    run ids (one id when nothing was changed)."""
    from sim import load_scenario, run

    jobs: list[list[str]] = [[]] + ([sets] if sets else [])
    ids = []
    for i, job in enumerate(jobs):
        def step(day: int, total: int, i: int = i, job: list[str] = job) -> None:
            if on_progress is not None:
                what = "baseline" if not job else ", ".join(job)
                on_progress((i + day / total) / len(jobs), f"{what}: day {day}/{total}")

        _model, result = run(load_scenario(name, sets=job), users=users, days=days, seed=seed, root=root,
                             on_day=step)
        ids.append(result.run_id)
        warm(connect(root), result.run_id)
    return ids


def runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every simulated run: ``run_id``, ``scenario``, ``parameters`` and ``summary`` (JSON)."""
    tbl = con.sql("SELECT run_id, scenario, parameters, summary FROM runs WHERE source = 'sim' "
                      "ORDER BY scenario, run_id").to_arrow_table()
    return pl.from_arrow(tbl)  # type: ignore[return-value]


def compare(runs_df: pl.DataFrame, run_ids: list[str]) -> pl.DataFrame:
    """One row per figure of `COMPARED`, one column per run."""
    cols: dict[str, list[Any]] = {"figure": list(COMPARED)}
    for rid in run_ids:
        row = runs_df.filter(pl.col("run_id") == rid)
        summary = json.loads(row["summary"][0] or "{}") if row.height else {}
        cols[rid] = [None if summary.get(k) is None else str(summary.get(k)) for k in COMPARED]
    return pl.DataFrame(cols)
