"""What the Experiments page does besides drawing: every economy knob a scenario has, a
sweep of the changed economy against the current one on the same seeds (through the
simulator's Python API), and the figures compared side by side for any sources.

Knobs are read from the scenario's effective config (economy and market), so a new
config key is offered without touching this file: integers and switches, plus the few
text choices (refund policy, circuit-breaker mode). Names, URLs and display order are
not economy knobs and are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import duckdb
import polars as pl

from .flows import by_kind
from .metrics import daily_active, revenue_daily, supply_daily

__all__ = ["SECTIONS", "Figure", "Knob", "changes", "compare", "defaults", "family_daily", "figures", "knobs",
           "run_sweep", "scenario_names", "sweep_results", "sweeps"]

# Knob sections, in the order the page shows them: (section title, config key prefixes).
SECTIONS = (
    ("Rewards", ("rewards.",)), ("Sinks", ("spend.", "tournaments.", "challenges.", "phase2.")),
    ("Packages", ("packages.", "purchases.", "promos.", "coin.")), ("Refunds", ("refunds.",)),
    ("Pools", ("pools.",)), ("Anti-sybil", ("antisybil.",)),
    ("Market fees", ("market.maker", "market.taker", "market.fee", "market.market_protection", "market.stp",
                     "market.seller", "market.earn", "market.max_supply")),
    ("Market defenses", ("market.",)),
)
_NOT_KNOBS = ("name", "display_order", "currency", "success_url", "cancel_url", "revenue_account", "account",
              "base_coins", "keep_tape", "earn_source")


class Knob(NamedTuple):
    """An economy parameter the page exposes: ``key`` is the dotted config key
    (``--set key=value``), ``kind`` "int", "bool" or "str", ``default`` the scenario's value,
    ``section`` one of `SECTIONS`."""

    key: str
    label: str
    kind: str
    default: Any
    section: str


def _leaves(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in table.items():
        key = f"{prefix}{k}"
        out += _leaves(v, key + ".") if isinstance(v, Mapping) else [(key, v)]
    return out


def _section(key: str) -> str:
    return next(title for title, prefixes in SECTIONS if key.startswith(prefixes) or title == "Market defenses")


def _label(key: str) -> str:
    """``market.circuit_breaker.move_bps`` -> "circuit breaker: move (bps)"."""
    parts = key.split(".")[1:] if key.startswith(("market.", "rewards.", "spend.", "pools.")) else key.split(".")
    last = parts[-1]
    for suffix, unit in (("_bps", " (bps)"), ("_cents", " (cents)"), ("_seconds", " (s)"), ("_days", " (days)")):
        if last.endswith(suffix):
            last = last[: -len(suffix)] + unit
    return ": ".join([*(p.replace("_", " ") for p in parts[:-1]), last.replace("_", " ")])


def knobs(name: str) -> list[Knob]:
    """Every economy and market knob of scenario ``name``, with its value there."""
    from sim import load_scenario

    sc = load_scenario(name)
    # The config's own market table is raw; the parsed MarketConfig has every default.
    economy = [(k, v) for k, v in _leaves(sc.config.to_dict())
               if k.split(".")[0] not in ("population", "behaviour", "scenario", "market")]
    out = []
    for key, value in economy + _leaves(sc.market.to_dict(), "market."):
        if key.split(".")[-1] in _NOT_KNOBS or value is None:
            continue
        kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else \
            "str" if isinstance(value, str) else None
        if kind is not None:
            out.append(Knob(key, _label(key), kind, value, _section(key)))
    return out


def defaults(name: str) -> dict[str, Any]:
    """Each knob's value in scenario ``name`` as configured."""
    return {k.key: k.default for k in knobs(name)}


def changes(base: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides for the knobs that differ from the scenario's values."""
    def literal(v: Any) -> str:
        return str(v).lower() if isinstance(v, bool) else f'"{v}"' if isinstance(v, str) else str(v)

    return [f"{k}={literal(v)}" for k, v in values.items() if base.get(k) != v]


def scenario_names() -> list[str]:
    from sim import list_scenarios

    return list_scenarios()


def run_sweep(root: Any, name: str, sets: Sequence[str], users: int, days: int, seeds: int, *,
              workers: int = 2, on_progress: Callable[[int, int], None] | None = None) -> dict[str, list[str]]:
    """Simulate the current economy and (when ``sets`` change anything) the new one on the
    same ``seeds`` seeds into the warehouse (runs tagged "sweep", the ``sweeps`` table
    written). Returns the run ids per variant ("current", "new"), in seed order."""
    from sim.experiment import Variant, build_variants
    from sim.runner import experiment

    named = [Variant("current", ())] + ([Variant("new", tuple(sets))] if sets else [])
    variants, control = build_variants(name, variants=named, control="current")  # a bad key fails here
    total = len(variants) * seeds
    done = [0]

    def tick(_result: dict[str, Any]) -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress(done[0], total)

    exp = experiment(name, variants, control, seeds, workers=workers, users=users, days=days, root=root,
                     on_done=tick)
    out: dict[str, list[str]] = {}
    for r in exp.results:
        out.setdefault(r["variant"], []).append(r["run_id"])
    return out


# -- figures compared -------------------------------------------------------------------------
class Figure(NamedTuple):
    """A compared figure: ``unit`` "coins", "cents", "users", "share" or "count"."""

    name: str
    unit: str


FIGURES = (
    Figure("Supply at the end", "coins"), Figure("Issued", "coins"), Figure("Issued as rewards", "coins"),
    Figure("Issued as purchased coins", "coins"), Figure("Issued as purchase bonus", "coins"),
    Figure("Issued as admin grants", "coins"), Figure("Burned", "coins"), Figure("Net revenue", "cents"),
    Figure("Gross revenue", "cents"), Figure("Active users per day", "users"), Figure("New users", "users"),
)


def _in(df: pl.DataFrame, lo: Any, hi: Any, column: str = "day") -> pl.DataFrame:
    if lo is not None:
        df = df.filter(pl.col(column) >= lo)
    if hi is not None:
        df = df.filter(pl.col(column) <= hi)
    return df


def figures(con: duckdb.DuckDBPyConnection, run_id: str, lo: Any = None, hi: Any = None) -> dict[str, float]:
    """`FIGURES` of one run over ``lo`` .. ``hi`` (dates, None for open ends)."""
    k = _in(by_kind(con, run_id, "COIN"), lo, hi)
    issued = k.filter(pl.col("direction") == "issued")

    def issued_as(pred: pl.Expr) -> float:
        return float(issued.filter(pred)["amount"].sum())

    sup = _in(supply_daily(con, run_id, "COIN"), None, hi)
    rev = _in(revenue_daily(con, run_id), lo, hi)
    act = _in(daily_active(con, run_id), lo, hi)
    return {
        "Supply at the end": float(sup["supply"][-1]) if sup.height else 0.0,
        "Issued": float(issued["amount"].sum()),
        "Issued as rewards": issued_as(pl.col("kind").str.starts_with("reward")),
        "Issued as purchased coins": issued_as(pl.col("kind") == "purchased"),
        "Issued as purchase bonus": issued_as(pl.col("kind") == "purchase bonus"),
        "Issued as admin grants": issued_as(pl.col("kind") == "admin grant"),
        "Burned": float(k.filter(pl.col("direction") == "burned")["amount"].sum()),
        "Net revenue": float(rev["net"].sum()),
        "Gross revenue": float(rev["gross"].sum()),
        "Active users per day": float(act["active"].mean() or 0.0) if act.height else 0.0,  # type: ignore[arg-type]
        "New users": float(act["new"].sum()),
    }


def compare(per_source: Mapping[str, Sequence[Mapping[str, float]]]) -> pl.DataFrame:
    """One row per figure: each source's mean over its seeds, and for every source after
    the first its difference from the first and that difference in percent (None where
    the first is 0). Column names: the source's name; "<name>: difference", "<name>: %"."""
    names = list(per_source)
    cols: dict[str, list[Any]] = {"figure": [f.name for f in FIGURES], "unit": [f.unit for f in FIGURES]}
    means = {n: [sum(r[f.name] for r in runs) / len(runs) if runs else None for f in FIGURES]
             for n, runs in per_source.items()}
    for n in names:
        cols[n] = means[n]
    base = means[names[0]] if names else []
    for n in names[1:]:
        cols[f"{n}: difference"] = [None if a is None or b is None else a - b for a, b in zip(means[n], base, strict=True)]
        cols[f"{n}: %"] = [None if a is None or not b else (a - b) / abs(b) for a, b in zip(means[n], base, strict=True)]
    return pl.DataFrame(cols, strict=False)


def family_daily(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], lo: Any = None,
                 hi: Any = None) -> pl.DataFrame:
    """Per run and day of the run (0 = its first day in the range): ``supply`` (COIN),
    ``active`` users and ``net_dollars`` of revenue; for fan charts across seeds."""
    frames = []
    for rid in run_ids:
        sup = supply_daily(con, rid, "COIN").select("day", "supply")
        act = daily_active(con, rid).select("day", "active")
        rev = revenue_daily(con, rid).select("day", (pl.col("net") / 100).alias("net_dollars"))
        df = _in(sup.join(act, on="day", how="full", coalesce=True).join(rev, on="day", how="full", coalesce=True)
                 .sort("day"), lo, hi)
        if df.is_empty():
            continue
        df = df.with_columns(pl.col("supply").forward_fill(), pl.col("active").fill_null(0),
                             pl.col("net_dollars").fill_null(0.0),
                             (pl.col("day") - pl.col("day").min()).dt.total_days().alias("day_of_run"),
                             pl.lit(rid).alias("run_id"))
        frames.append(df)
    if not frames:
        return pl.DataFrame(schema={"day": pl.Date, "supply": pl.Int64, "active": pl.Int64, "net_dollars": pl.Float64,
                                    "day_of_run": pl.Int64, "run_id": pl.String})
    return pl.concat(frames, how="vertical_relaxed")


# -- sweeps -----------------------------------------------------------------------------------
def sweeps(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT sweep FROM sweeps ORDER BY sweep").fetchall()]


def sweep_results(con: duckdb.DuckDBPyConnection, sweep: str) -> list[dict[str, Any]]:
    """A sweep's rows as `sim.experiment` results: ``{"variant", "seed", "metrics"}``, in
    the order the variants were written."""
    rows = con.execute("SELECT variant, seed, metric, value FROM sweeps WHERE sweep = ?", [sweep]).fetchall()
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for variant, seed, metric, value in rows:
        out.setdefault((variant, int(seed)), {"variant": variant, "seed": int(seed), "metrics": {}})["metrics"][
            metric] = value
    return list(out.values())
