"""Simulator commands: `sim run`, `sim sweep`, `sim compare`, `sim list`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.economy.config import ConfigError

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True)
sim_app = typer.Typer(help="Agent-based simulations of the economy (scenarios in data/scenarios).",
                      no_args_is_help=True)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: key=value (repeatable).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Warehouse root (default data/warehouse).")]

# The figures `sim run` prints, in order (the full summary is stored with the run).
SHOWN = ("issued", "free_issued", "purchased_issued", "bonus_issued", "free_issued_per_active_user_day", "burned",
         "house_burn", "dust_burn", "circulating", "supply_growth", "burn_to_issuance", "gini", "top1_share",
         "revenue_cents", "paid_sessions", "payers", "repeat_purchase_rate", "logins", "churned", "wants_given_up",
         "trades", "honest_volume_coin", "defenses_fired", "detector_alerts", "victims", "victims_losses",
         "ring_profit", "ring_profit_mtm", "sybil_farmed", "daily_bonus_denied")


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


@sim_app.command("list")
def list_cmd() -> None:
    """The scenarios available."""
    from sim.scenario import list_scenarios

    for name in list_scenarios():
        console.print(name)


@sim_app.command("behaviour")
def behaviour_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or .toml path.")] = "baseline",
    set_: SetOption = None,
) -> None:
    """The behaviour model's parameters for SCENARIO: value, default, unit and meaning
    (the scenario's [behaviour] table; see sim/behaviour.py)."""
    from sim.behaviour import Behaviour
    from sim.scenario import load_scenario

    sc = load_scenario(scenario, sets=set_ or [])
    table = Table("parameter", "value", "default", "unit: meaning", title=f"[behaviour] of {sc.name}")
    for name, field in Behaviour.model_fields.items():
        value, default = getattr(sc.behaviour, name), field.default
        mark = "" if value == default else " *"
        table.add_row(name, f"{value}{mark}", str(default), " ".join((field.description or "").split()))
    console.print(table)


@sim_app.command("run")
def run_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name (data/scenarios/<name>.toml) or a .toml path.")],
    users: Annotated[int | None, typer.Option(help="Users (default: the scenario's).")] = None,
    days: Annotated[int | None, typer.Option(help="Days to simulate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    set_: SetOption = None,
    out: OutOption = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: derived from scenario, parameters, seed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate SCENARIO day by day and write the run to the warehouse."""
    from sim.runner import run
    from sim.scenario import load_scenario
    from sim.warehouse import DEFAULT_ROOT

    try:
        sc = load_scenario(scenario, sets=set_ or [])
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    total = days or sc.population.days
    with _progress() as progress:
        task = progress.add_task(f"{sc.name}", total=total)
        _, res = run(sc, users=users, days=days, seed=seed, root=out or DEFAULT_ROOT, run_id=run_id,
                     on_day=lambda d, n: progress.update(task, completed=d))
    if as_json:
        console.print_json(json.dumps(res.summary, default=str))
        return
    table = Table(title=f"{res.run_id}  ({res.cpu_seconds:.1f} s CPU)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k in SHOWN:
        table.add_row(k, str(res.summary.get(k)))
    console.print(table)
    console.print(f"warehouse: {Path(res.paths['runs']).parent.parent.parent}")


@sim_app.command("sweep")
def sweep_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or .toml path.")],
    grid: Annotated[list[str] | None, typer.Option("--grid", help="An axis: key=v1,v2,... (repeatable).")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per grid point (1..K).")] = 3,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 2,
    backend: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    users: Annotated[int | None, typer.Option()] = None,
    days: Annotated[int | None, typer.Option()] = None,
    set_: SetOption = None,
    out: OutOption = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Do not write each run's warehouse tables.")] = False,
) -> None:
    """Run a grid x seeds and summarise each outcome with its mean and spread across seeds."""
    from sim.runner import dumps, sweep, sweep_summary
    from sim.warehouse import DEFAULT_ROOT

    root = None if no_write else (out or DEFAULT_ROOT)
    try:
        from sim.runner import _grid

        n = len(_grid(grid or [])) * seeds
        with _progress() as progress:
            task = progress.add_task(f"sweep {scenario} ({backend})", total=n)
            results = sweep(scenario, grid or [], seeds, workers=workers, backend=backend, users=users, days=days,
                            sets=set_ or [], root=root, on_done=lambda r: progress.advance(task))
    except (ConfigError, ValueError, RuntimeError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    stats = sweep_summary(results)
    table = Table(title=f"{scenario}: {seeds} seed(s) per point, mean ± std")
    table.add_column("point")
    for k in ("circulating", "gini", "revenue_cents", "victims_losses", "defenses_fired", "sybil_farmed"):
        table.add_column(k, justify="right")
    for s in stats:
        cells = []
        for k in ("circulating", "gini", "revenue_cents", "victims_losses", "defenses_fired", "sybil_farmed"):
            v = s.get(k) or {}
            cells.append("-" if v.get("mean") is None else f"{v['mean']:.4g} ± {v['std']:.2g}")
        table.add_row(" ".join(s["point"]) or "(scenario)", *cells)
    console.print(table)
    runs_dir = Path(out or DEFAULT_ROOT).parent / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"sweep-{scenario}-{len(results)}runs.json"
    path.write_text(dumps({"scenario": scenario, "grid": grid, "seeds": seeds, "points": stats, "runs": results}))
    console.print(f"sweep summary: {path}")


# The stress findings `sim compare` puts side by side.
FINDINGS = ("supply_growth", "free_issued", "burn_to_issuance", "gini", "top1_share", "revenue_cents", "logins",
            "victims_losses", "ring_profit", "defenses_fired", "sybil_farmed")


@sim_app.command("compare")
def compare_cmd(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenarios (default: all).")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per scenario.")] = 2,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 2,
    backend: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    users: Annotated[int | None, typer.Option()] = None,
    days: Annotated[int | None, typer.Option()] = None,
    out: OutOption = None,
    no_write: Annotated[bool, typer.Option("--no-write", help="Do not write each run's warehouse tables.")] = False,
) -> None:
    """Run scenarios side by side and print their stress findings (mean ± std over seeds)."""
    from sim.runner import compare, dumps, sweep_summary
    from sim.scenario import list_scenarios
    from sim.warehouse import DEFAULT_ROOT

    names = scenarios or list_scenarios()
    root = None if no_write else (out or DEFAULT_ROOT)
    try:
        with _progress() as progress:
            task = progress.add_task("compare", total=len(names) * seeds)
            results = compare(names, seeds, workers=workers, backend=backend, users=users, days=days, root=root,
                              on_done=lambda r: progress.advance(task))
    except (ConfigError, ValueError, RuntimeError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"stress findings, {seeds} seed(s) each (mean ± std)")
    table.add_column("scenario")
    for k in FINDINGS:
        table.add_column(k, justify="right")
    report = {}
    for name, runs in results.items():
        [stats] = sweep_summary(runs)
        report[name] = stats
        cells = []
        for k in FINDINGS:
            v = stats.get(k) or {}
            cells.append("-" if v.get("mean") is None else f"{v['mean']:.4g} ± {v['std']:.2g}")
        table.add_row(name, *cells)
    console.print(table)
    runs_dir = Path(out or DEFAULT_ROOT).parent / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"compare-{len(names)}scenarios-{seeds}seeds.json"
    path.write_text(dumps({"scenarios": names, "seeds": seeds, "findings": report}))
    console.print(f"findings: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
