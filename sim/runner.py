"""Running scenarios: one run (model, warehouse export, summary) and sweeps of a grid
x seeds in parallel processes (``local``) or on Ray (``ray``).

A run's id is derived from what defines it (scenario, parameters, seed), so running
the same thing twice writes the same partition with the same bytes.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import itertools
import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from .experiment import Variant, check_metrics, sweep_id, sweep_rows
from .model import METRICS, EconomyModel, Origin
from .scenario import Scenario, load_scenario, parse_assignment
from .spill import SPILL_ROWS, entry_table, transactions_of
from .summary import flat_metrics, summarize
from .warehouse import DEFAULT_ROOT, to_json, write_table, write_table_parts

__all__ = [
    "Experiment", "RunResult", "code_version", "compare", "experiment", "export", "make_run_id", "quick_exit", "run",
    "run_jobs", "run_scenario", "sweep", "sweep_summary",
]

NUMERIC_SKIP = {"seed", "users", "days"}


class RunResult(NamedTuple):
    """``summary``: the stress findings; ``paths``: table -> Parquet file written;
    ``cpu_seconds`` / ``wall_seconds``: simulating only (export excluded)."""

    run_id: str
    summary: dict[str, Any]
    paths: dict[str, str]
    cpu_seconds: float
    wall_seconds: float


_VERSION: str | None = None


def code_version() -> str:
    """The git commit of the code (``+dirty`` if it has local changes), else the package version."""
    global _VERSION
    if _VERSION is None:
        root = Path(__file__).resolve().parent.parent
        try:
            rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "ledger", "market", "sim"], cwd=root,
                                   capture_output=True, text=True, timeout=10).stdout.strip()
            _VERSION = rev + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            from importlib.metadata import version

            _VERSION = f"coinlab {version('coinlab')}"
    return _VERSION


def make_run_id(scenario: Scenario, seed: int) -> str:
    digest = hashlib.sha256(to_json(scenario.parameters()).encode()).hexdigest()[:10]  # type: ignore[union-attr]
    return f"{scenario.name}-s{seed}-{digest}"


def run(scenario: Scenario, *, users: int | None = None, days: int | None = None, seed: int | None = None,
        root: str | Path | None = DEFAULT_ROOT, run_id: str | None = None, check_each_day: bool = False,
        on_day: Callable[[int, int], None] | None = None, kind: str = "run", origin: Origin | None = None,
        extra_parameters: dict[str, Any] | None = None, spill_rows: int = SPILL_ROWS) -> tuple[EconomyModel, RunResult]:
    """Simulate ``scenario`` day by day, then (unless ``root`` is None) write the warehouse;
    ``kind`` tags the ``runs`` row (`sim.warehouse.RUN_KINDS`). ``origin``: start from a
    source's state (`sim.forecast`); ``extra_parameters`` are added to the row's parameters;
    ``spill_rows``: journal entries held in memory before they go to disk (`sim.spill`)."""
    model = EconomyModel(scenario, users=users, days=days, seed=seed, check_each_day=check_each_day, origin=origin,
                         spill_rows=spill_rows)
    pop = model.pop
    scenario = scenario.model_copy(update={"population": pop})
    rid = run_id or make_run_id(scenario, pop.seed)
    cpu, wall = time.process_time(), time.perf_counter()
    for day in range(pop.days):
        model.step()
        if on_day is not None:
            on_day(day + 1, pop.days)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    summary = summarize(model)
    summary["run_id"] = rid
    paths = export(model, root, rid, summary, kind=kind, extra_parameters=extra_parameters) if root is not None else {}
    gc.unfreeze()  # the model froze the heap day by day (see EconomyModel.step)
    return model, RunResult(rid, summary, {k: str(v) for k, v in paths.items()}, cpu, wall)


def run_scenario(name: str | Path, *, users: int | None = None, days: int | None = None, seed: int | None = None,
                 sets: Sequence[str] = (), root: str | Path | None = DEFAULT_ROOT,
                 run_id: str | None = None, kind: str = "run") -> RunResult:
    """Load and run a scenario by name; the model is dropped (sweeps call this in workers)."""
    scenario = load_scenario(name, sets=list(sets))
    return run(scenario, users=users, days=days, seed=seed, root=root, run_id=run_id, kind=kind)[1]


# -- export ---------------------------------------------------------------------------------
def _cols(names: str, rows: Iterable[Sequence[Any]]) -> dict[str, list[Any]]:
    keys = names.split()
    cols: dict[str, list[Any]] = {k: [] for k in keys}
    lists = [cols[k] for k in keys]
    for row in rows:
        for lst, v in zip(lists, row, strict=True):
            lst.append(v)
    return cols


def export(model: EconomyModel, root: str | Path, run_id: str, summary: dict[str, Any], *,
           kind: str = "run", extra_parameters: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write every warehouse table of this run."""
    enabled = gc.isenabled()
    gc.disable()  # millions of short-lived rows: a collection pass would rescan the whole journal
    try:
        return _export(model, root, run_id, summary, kind, extra_parameters or {})
    finally:
        if enabled:
            gc.enable()


def _export(model: EconomyModel, root: str | Path, run_id: str, summary: dict[str, Any], kind: str,
            extra_parameters: dict[str, Any]) -> dict[str, Path]:
    store = model.ledger.store
    journal = store.book.journal  # type: ignore[attr-defined]
    out: dict[str, Path] = {}

    def w(table: str, cols: dict[str, Any]) -> None:
        out[table] = write_table(root, table, run_id, cols)

    # The journal: the parts spilled during the run (sim.spill), then what is in memory.
    spill, tail = getattr(store, "spill", None), entry_table(journal)

    def parts() -> Iterator[pa.Table]:  # one part in memory at a time
        if spill is not None:
            yield from spill.tables()
        yield tail

    out["entries"] = write_table_parts(root, "entries", run_id, parts())
    out["transactions"] = write_table_parts(root, "transactions", run_id, map(transactions_of, parts()))
    neg, frozen, roles = store.negative_allowed(), store.book.frozen, model.roles  # type: ignore[attr-defined]
    w("accounts", _cols("account kind role asset balance allow_negative frozen", (
        (a, a.split(":", 1)[0], roles.get(a), s, b, a in neg, a in frozen)
        for (a, s), b in sorted(store.book.balances.items()))))  # type: ignore[attr-defined]
    w("trades", _cols(
        "trade_id symbol time price quantity quote buyer seller taker_side maker_order_id taker_order_id "
        "buyer_fee seller_fee", (tuple(t) for t in model.tape)))
    w("orders", _cols(
        "order_id symbol account side kind price quantity filled remaining tif post_only status reason "
        "created_at expires_at",
        ((o.id, o.symbol, o.account, o.side, o.kind, o.price, o.quantity, o.filled, o.remaining, o.tif,
          o.post_only, o.status, o.reason, o.created_at, o.expires_at) for o in model.orders)))
    w("candles", _candles(model))
    carried = model.carried_payments  # a source's payments known to a resumed run: not its own
    w("payments", _cols(
        "session_id user_id package_id price_cents currency base_coins bonus_coins promo_code status created_at "
        "updated_at expires_at paid_at payment_intent fulfil_tx refunded_cents coins_clawed_back shortfall_coins "
        "disputed failure_reason",
        ((p.session_id, p.user_id, p.package_id, p.price_cents, p.currency, p.base_coins, p.bonus_coins,
          p.promo_code, p.status, p.created_at, p.updated_at, p.expires_at, p.paid_at, p.payment_intent,
          p.fulfil_tx, p.refunded_cents, p.coins_clawed_back, p.shortfall_coins, p.disputed, p.failure_reason)
         for p in model.economy.payments.store.all() if p.session_id not in carried)))
    w("holds", _cols("hold_id account asset amount status created_at expires_at settled_at ref_type ref_id",
                     (tuple(h) for h in store.all_holds())))
    alerts: list[tuple[Any, ...]] = [(a.time, "defense", a.symbol or None, a.defense, a.action, a.reason, a.account, a.order_id)
              for a in model.defense_alerts]
    alerts += [(a.time, "detector", a.symbol, a.kind, "flagged", to_json(a.evidence), None, None)
               for a in model.detector_alerts]
    w("alerts", _cols("time kind symbol name action reason account order_id", alerts))
    mv = model.datacollector.model_vars
    w("daily_metrics", {k: list(mv[k]) for k in METRICS})
    pop = model.pop
    parameters = model.scenario.model_copy(update={"population": pop}).parameters() | extra_parameters
    w("runs", {"scenario": [model.scenario.name], "parameters": [to_json(parameters)], "seed": [pop.seed], "users": [pop.users], "days": [pop.days],
        "code_version": [code_version()], "summary": [to_json(summary)], "kind": [kind]})
    return out


def _candles(model: EconomyModel) -> dict[str, list[Any]]:
    from datetime import timedelta

    start = model.clock.start
    end = start + timedelta(days=model.pop.days)
    rows = []
    for sym in sorted(model.brand_coins):
        for interval in ("1h", "1d"):
            for c in model.candles.candles(sym, interval, start, end):
                rows.append((sym, interval, c.start, c.open, c.high, c.low, c.close, c.volume,
                             c.quote_volume, c.trades))
    return _cols("symbol interval start open high low close volume quote_volume trades", rows)


# -- sweeps ---------------------------------------------------------------------------------
def _grid(grid: Sequence[str]) -> list[list[str]]:
    """``["a=1,2", "b=x,y"]`` -> every combination as ``key=value`` lists."""
    axes = []
    for spec in grid:
        key, _, values = spec.partition("=")
        if not key or not values:
            raise ValueError(f"grid axis must be key=v1,v2,..., got {spec!r}")
        axes.append([f"{key}={v}" for v in values.split(",")])
        parse_assignment(axes[-1][0])
    return [list(c) for c in itertools.product(*axes)] if axes else [[]]


def _job(args: tuple[str, tuple[str, ...], int, int | None, int | None, str | None, str]) -> dict[str, Any]:
    name, sets, seed, users, days, root, kind = args
    res = run_scenario(name, users=users, days=days, seed=seed, sets=sets, root=root, kind=kind)
    return {"point": list(sets), "seed": seed, "run_id": res.run_id, "summary": res.summary,
            "cpu_seconds": res.cpu_seconds}


def sweep(name: str, grid: Sequence[str], seeds: int, *, workers: int = 2, backend: str = "local",
          users: int | None = None, days: int | None = None, sets: Sequence[str] = (),
          root: str | Path | None = DEFAULT_ROOT, first_seed: int = 1,
          on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every grid point x ``seeds`` seeds; returns one result dict per run, in
    (point, seed) order whatever order they finished in."""
    load_scenario(name, sets=list(sets))  # fail fast on a bad name or key
    jobs = [(name, (*sets, *point), s, users, days, None if root is None else str(root), "sweep")
            for point in _grid(grid) for s in range(first_seed, first_seed + seeds)]
    return run_jobs(jobs, workers=workers, backend=backend, on_done=on_done)


class Experiment(NamedTuple):
    """An experiment's results: ``results`` one dict per run in (variant, seed) order, each
    with ``variant``, ``seed``, ``run_id``, ``metrics`` (`sim.summary.flat_metrics`) and
    ``summary``; ``path`` the ``sweeps`` table's file (None when nothing was written)."""

    sweep: str
    scenario: str
    variants: list[Variant]
    control: str
    seeds: list[int]
    results: list[dict[str, Any]]
    path: Path | None


def experiment(scenario: str, variants: Sequence[Variant], control: str, seeds: int, *, workers: int = 2,
               backend: str = "local", users: int | None = None, days: int | None = None,
               root: str | Path | None = DEFAULT_ROOT, write_runs: bool = True, first_seed: int = 1,
               metrics: Sequence[str] = (),
               on_done: Callable[[dict[str, Any]], None] | None = None) -> Experiment:
    """Run every variant on the same seeds (common random numbers) and write the
    ``sweeps`` table under ``root`` (each run's own tables too when ``write_runs``).
    Unknown ``metrics`` are refused before anything runs (`sim.experiment.check_metrics`)."""
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    check_metrics(scenario, variants, metrics)
    seed_list = list(range(first_seed, first_seed + seeds))
    sid = sweep_id(scenario, variants, seed_list, users, days)
    run_root = None if root is None or not write_runs else str(root)
    jobs = [(scenario, v.sets, s, users, days, run_root, "sweep") for v in variants for s in seed_list]
    raw = run_jobs(jobs, workers=workers, backend=backend, on_done=on_done)
    results = []
    for (v, s), r in zip(((v, s) for v in variants for s in seed_list), raw, strict=True):
        results.append({"variant": v.name, "seed": s, "run_id": r["run_id"], "metrics": flat_metrics(r["summary"]),
                        "summary": r["summary"], "cpu_seconds": r["cpu_seconds"]})
    path = write_table(root, "sweeps", sid, sweep_rows(sid, results)) if root is not None else None
    return Experiment(sid, scenario, list(variants), control, seed_list, results, path)


def compare(names: Sequence[str], seeds: int, *, workers: int = 2, backend: str = "local",
            users: int | None = None, days: int | None = None, root: str | Path | None = DEFAULT_ROOT,
            on_done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run several scenarios x ``seeds`` seeds; results by scenario, in seed order."""
    for name in names:
        load_scenario(name)
    jobs = [(name, (), s, users, days, None if root is None else str(root), "run")
            for name in names for s in range(1, seeds + 1)]
    results = run_jobs(jobs, workers=workers, backend=backend, on_done=on_done)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for job, res in zip(jobs, results, strict=True):
        out[job[0]].append(res)
    return out


def quick_exit() -> None:
    """A pool worker's initializer: the worker leaves without tearing its interpreter
    down. Its results have gone back to the parent by then (through a pipe, no thread
    left to flush), and freeing its last runs' objects one by one took a pool's shutdown
    2.0 s after four 20k-user runs (0.05 s this way) and 4-10 s at the end of a 60 s
    calibration; the OS takes the memory back at once."""
    atexit.register(os._exit, 0)


def run_jobs(jobs: list[Any], *, workers: int = 2, backend: str = "local",
             on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run `_job` argument tuples in parallel; results in the order of ``jobs``."""
    if backend == "local":
        results: list[dict[str, Any]] = [{}] * len(jobs)
        with ProcessPoolExecutor(max_workers=max(1, workers), initializer=quick_exit) as pool:
            futures = {pool.submit(_job, j): i for i, j in enumerate(jobs)}
            for f in as_completed(futures):
                results[futures[f]] = f.result()
                if on_done:
                    on_done(results[futures[f]])
        return results
    if backend == "ray":
        return _ray_sweep(jobs, workers, on_done)
    raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")


def _ray_sweep(jobs: list[Any], workers: int, on_done: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("--backend ray needs the 'ray' package: pip install 'ray>=2.9' "
                           "(or use --backend local)") from None
    started = not ray.is_initialized()
    if started:
        # A local instance unless RAY_ADDRESS points at a cluster.
        ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(_job)
        refs = [remote.remote(j) for j in jobs]
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            if on_done:
                on_done(ray.get(done[0]))
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()


def sweep_summary(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid point: mean and (sample) standard deviation across seeds of every
    numeric summary figure."""
    by_point: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in results:
        by_point.setdefault(tuple(r["point"]), []).append(r["summary"])
    out = []
    for point, runs in by_point.items():
        stats: dict[str, Any] = {"point": list(point), "seeds": len(runs)}
        keys = [k for k, v in runs[0].items()
                if isinstance(v, int | float) and not isinstance(v, bool) and k not in NUMERIC_SKIP]
        for k in keys:
            xs = [float(s[k]) for s in runs if isinstance(s.get(k), int | float)]
            stats[k] = {"mean": statistics.fmean(xs) if xs else None,
                        "std": statistics.stdev(xs) if len(xs) > 1 else 0.0}
        out.append(stats)
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)
