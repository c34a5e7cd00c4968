"""Simulator commands: `sim run`, `sim sweep`, `sim frontier`, `sim compare`, `sim calibrate`, `sim list`,
`sim behaviour` (`sim backtest` and `sim forecast` are in forecast_cmds.py)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.economy.config import ConfigError

if TYPE_CHECKING:
    from sim.experiment import Interval, Variant
    from sim.runner import Experiment

__all__ = ["register"]

console = Console()
err_console = Console(stderr=True)
sim_app = typer.Typer(help="Agent-based simulations of the economy (scenarios in data/scenarios).",
                      no_args_is_help=True)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: key=value (repeatable).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Warehouse root (default data/warehouse).")]
# Options the experiment commands (sweep, frontier, compare) share.
ZipOption = Annotated[list[str] | None, typer.Option("--zip", help="An axis that moves with the other --zip axes: "
                                                     "key=v1,v2,... (repeatable; same lengths).")]
WorkersOption = Annotated[int, typer.Option(help="Parallel worker processes.")]
BackendOption = Annotated[str, typer.Option(help="local (processes) or ray.")]
UsersOption = Annotated[int | None, typer.Option(help="Users per run (default: the scenario's).")]
DaysOption = Annotated[int | None, typer.Option(help="Days per run (default: the scenario's).")]
# a warehouse source and its window (sim calibrate, sim misfit)
SourceOption = Annotated[str, typer.Option(help="prod (the production export) or a run id in the warehouse.")]
WarehouseOption = Annotated[Path | None, typer.Option(help="Warehouse root (default data/warehouse).")]
FromOption = Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"],
                                                     help="First day of the window (default: the source's first).")]
ToOption = Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"],
                                                   help="Last day of the window (default: the source's last).")]
NoWriteOption = Annotated[bool, typer.Option("--no-write", help="Do not write each run's warehouse tables "
                                             "(the sweeps table is written).")]

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


# What `sim sweep` prints when no --metric is given.
SWEEP_METRICS = ("free_issued_per_active_user_day", "circulating", "revenue_cents", "honest_volume_coin",
                 "victims_losses", "sybil_extracted")


def _iv(iv: Interval | None, spec: str = ",.4g") -> str:
    if iv is None:
        return "-"
    mean, low, high, n = iv
    if mean != mean:  # nan: no value in any seed
        return "-"
    return f"{mean:{spec}}" if n < 2 else f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


def _experiment(scenario: str, variants: list[Variant], control: str, seeds: int, workers: int, backend: str,
                users: int | None, days: int | None, out: Path | None, no_write: bool,
                metrics: list[str]) -> Experiment:
    from sim.runner import experiment
    from sim.warehouse import DEFAULT_ROOT

    with _progress() as progress:
        task = progress.add_task(f"{scenario}: {len(variants)} variant(s) x {seeds} seed(s) ({backend})",
                                 total=len(variants) * seeds)
        return experiment(scenario, variants, control, seeds, workers=workers, backend=backend,
                          users=users, days=days, root=out or DEFAULT_ROOT, write_runs=not no_write,
                          metrics=metrics, on_done=lambda r: progress.advance(task))


@sim_app.command("sweep")
def sweep_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or .toml path.")],
    variants_file: Annotated[Path | None, typer.Option("--variants", help="A TOML file of named variants: "
                             "[variant.<name>] tables of overrides, optional control = \"<name>\".")] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="An axis: key=v1,v2,... (repeatable; every "
                                                   "combination).")] = None,
    zip_: ZipOption = None,
    control: Annotated[str | None, typer.Option(help="The control variant (default: the first).")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="A metric to print (repeatable).")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds 1..K, the same for every variant.")] = 10,
    workers: WorkersOption = 2,
    backend: BackendOption = "local",
    users: UsersOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    out: OutOption = None,
    no_write: NoWriteOption = False,
) -> None:
    """Run variants x seeds on common random numbers; print per metric the mean with its 95%
    interval and the paired difference from the control with its interval; store every
    figure in the warehouse's sweeps table."""
    from sim.experiment import (
        ExperimentError,
        build_variants,
        check_metrics,
        load_variants,
        summarize_experiment,
    )
    from sim.runner import dumps
    from sim.warehouse import DEFAULT_ROOT

    metrics = list(metric or SWEEP_METRICS)
    try:
        named, file_control = load_variants(variants_file) if variants_file else ([], None)
        variants, ctrl = build_variants(scenario, variants=named, grid=grid or [], zip_axes=zip_ or [],
                                        sets=set_ or [], control=control or file_control)
        check_metrics(scenario, variants, metrics)
        if backend not in ("local", "ray"):
            raise ExperimentError(f"backend must be 'local' or 'ray', got {backend!r}")
        exp = _experiment(scenario, variants, ctrl, seeds, workers, backend, users, days, out, no_write, metrics)
    except (ConfigError, ValueError, RuntimeError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    rows = summarize_experiment(exp.results, metrics, ctrl)
    table = Table(title=f"{scenario}: {len(variants)} variant(s) x {seeds} seed(s); mean [95% CI]; "
                        f"paired difference from '{ctrl}' [95% CI]")
    table.add_column("variant")
    table.add_column("metric")
    table.add_column("mean [95% CI]", justify="right")
    table.add_column(f"- {ctrl} [95% CI]", justify="right")
    for r in rows:
        table.add_row(r.variant, r.metric, _iv(r.value), "(control)" if r.variant == ctrl else _iv(r.diff, "+,.4g"))
    console.print(table)
    runs_dir = Path(out or DEFAULT_ROOT).parent / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"sweep-{exp.sweep}.json"
    path.write_text(dumps({"sweep": exp.sweep, "scenario": scenario, "control": ctrl,
                           "variants": [list(v) for v in variants], "seeds": seeds,
                           "summary": [{"variant": r.variant, "metric": r.metric, "value": r.value._asdict(),
                                        "diff": r.diff._asdict() if r.diff else None} for r in rows],
                           "runs": exp.results}))
    console.print(f"sweeps table: {exp.path}; summary: {path}")


@sim_app.command("frontier")
def frontier_cmd(
    scenario: Annotated[str, typer.Argument(help="Scenario name or .toml path (the control: as it is).")],
    axis: Annotated[list[str], typer.Option("--axis", help="A defense threshold or switch: key=v1,v2,... "
                                            "(repeatable; every combination).")],
    zip_: ZipOption = None,
    seeds: Annotated[int, typer.Option(help="Seeds 1..K, the same for every point.")] = 10,
    workers: WorkersOption = 2,
    backend: BackendOption = "local",
    users: UsersOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    out: OutOption = None,
    no_write: NoWriteOption = False,
) -> None:
    """Sweep defense thresholds and print the Pareto frontier of victims' realised losses
    (lower is better) against honest volume kept (higher is better), each point against
    the scenario as it is (the control) on the same seeds."""
    from sim.experiment import Variant, build_variants, frontier_points
    from sim.runner import dumps
    from sim.warehouse import DEFAULT_ROOT

    metrics = ["victims_losses", "honest_volume_coin"]
    try:
        points, _ = build_variants(scenario, grid=axis, zip_axes=zip_ or [], sets=set_ or [])
        variants = [Variant("control", tuple(set_ or [])), *points]
        exp = _experiment(scenario, variants, "control", seeds, workers, backend, users, days, out, no_write, metrics)
    except (ConfigError, ValueError, RuntimeError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    pts = frontier_points(exp.results, "control")
    table = Table(title=f"{scenario}: victims' realised losses vs honest volume kept, {seeds} seed(s); "
                        "* = on the Pareto frontier")
    for col in ("", "variant", "victims' losses [95% CI]", "vs control", "honest volume [95% CI]", "kept", "cut"):
        table.add_column(col, justify="left" if col in ("", "variant") else "right")
    for p in pts:
        table.add_row("*" if p.on_frontier else "", p.variant, _iv(p.losses, ",.0f"), _iv(p.losses_diff, "+,.0f"),
                      _iv(p.honest, ",.0f"), "-" if p.kept is None else f"{p.kept:.0%}",
                      "-" if p.cut is None else f"{p.cut:.0%}")
    console.print(table)
    runs_dir = Path(out or DEFAULT_ROOT).parent / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"frontier-{exp.sweep}.json"
    path.write_text(dumps({"sweep": exp.sweep, "scenario": scenario, "axes": axis, "seeds": seeds,
                           "points": [{"variant": p.variant, "victims_losses": p.losses._asdict(),
                                       "honest_volume_coin": p.honest._asdict(), "honest_kept": p.kept,
                                       "losses_cut": p.cut, "on_frontier": p.on_frontier} for p in pts]}))
    console.print(f"frontier: {path}; sweeps table: {exp.path}")


# The stress findings `sim compare` puts side by side.
FINDINGS = ("supply_growth", "free_issued", "burn_to_issuance", "gini", "top1_share", "revenue_cents", "logins",
            "victims_losses", "ring_profit", "defenses_fired", "sybil_farmed")


@sim_app.command("compare")
def compare_cmd(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenarios (default: all).")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per scenario.")] = 2,
    workers: WorkersOption = 2,
    backend: BackendOption = "local",
    users: UsersOption = None,
    days: DaysOption = None,
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


@sim_app.command("calibrate")
def calibrate_cmd(
    source: SourceOption = "prod",
    warehouse: WarehouseOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    out: Annotated[Path, typer.Option(help="The calibrated scenario file to write.")] = Path(
        "data/scenarios/calibrated.toml"),
    base: Annotated[str, typer.Option(help="The scenario the fitted [behaviour] goes into.")] = "baseline",
    seed: Annotated[int, typer.Option(help="Seed of the design simulations and the bootstrap.")] = 1,
    workers: WorkersOption = 2,
) -> None:
    """Fit the behaviour model to a warehouse source (method of simulated moments; 90%
    intervals by a bootstrap over users) and write a scenario with its provenance: the
    moments matched, source against model, the intervals and the fit error."""
    from sim.calibrate import CalibrationError, calibrate
    from sim.warehouse import DEFAULT_ROOT

    try:
        with _progress() as progress:
            task = progress.add_task("calibrating", total=None)
            cal = calibrate(warehouse or DEFAULT_ROOT, source, from_day=from_.date() if from_ else None,
                            to_day=to.date() if to else None, seed=seed, workers=workers,
                            progress=lambda stage, done, total: progress.update(
                                task, description=stage, completed=done, total=total))
        text = cal.to_toml(base)
    except (CalibrationError, ConfigError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    table = Table("parameter", "estimate", "90% interval", "default",
                  title=f"{source}: {cal.users} users, {cal.from_day} to {cal.to_day}")
    from sim.behaviour import Behaviour

    for name, (lo, hi) in cal.intervals.items():
        table.add_row(name, f"{cal.behaviour[name]:.4g}", f"{lo:.4g} .. {hi:.4g}",
                      f"{Behaviour.model_fields[name].default:.4g}")
    console.print(table)
    moments = Table("moment", "source", "model", "error (s.e.)",
                    title=f"moments matched (fit error {cal.fit_error:.2f})")
    for name, (src, model) in cal.moments.items():
        e = cal.errors.get(name)
        moments.add_row(name, f"{src:.4g}", f"{model:.4g}", "" if e is None else f"{e:+.1f}")
    console.print(moments)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    console.print(f"scenario: {out} ({len(cal.not_identified)} parameters kept at their defaults: not identified)")


@sim_app.command("misfit")
def misfit_cmd(
    scenario: Annotated[str, typer.Argument(help="A scenario name or TOML file; its behaviour table is scored.")],
    source: SourceOption = "prod",
    warehouse: WarehouseOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    runs: Annotated[int, typer.Option(min=1, help="Runs of the source's size, pooled.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the runs and the bootstrap.")] = 1,
    workers: WorkersOption = 2,
) -> None:
    """Score a scenario's behaviour against a warehouse source: its app users simulated
    under the source's economy at the source's size, each moment the calibration matches
    compared with the source's in bootstrap standard errors; the misfit is their squared
    length under the moments' bootstrap covariance (the calibration's objective: moments
    that measure the same thing count about once). A behaviour that is the source's own
    scores about the expected figure printed; far above it, the scenario does not
    reproduce what the source's users did."""
    from sim.calibrate import CalibrationError, misfit
    from sim.scenario import load_scenario
    from sim.warehouse import DEFAULT_ROOT

    try:
        behaviour = load_scenario(scenario).behaviour.model_dump()
        with _progress() as progress:
            task = progress.add_task("reading the source", total=None)
            fit = misfit(warehouse or DEFAULT_ROOT, source, behaviour, runs=runs, workers=workers, seed=seed,
                         from_day=from_.date() if from_ else None, to_day=to.date() if to else None,
                         progress=lambda stage, done, total: progress.update(
                             task, description=stage, completed=done, total=total))
    except (CalibrationError, ConfigError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    table = Table("moment", "source", "model", "error (s.e.)",
                  title=f"{scenario} against {source} ({fit.users} app users, {fit.runs} runs pooled)")
    for name, (src, model, z) in sorted(fit.moments.items(), key=lambda kv: -abs(kv[1][2])):
        table.add_row(name, f"{src:.4g}", f"{model:.4g}", f"{z:+.1f}")
    console.print(table)
    console.print(f"misfit {fit.score:.1f} over {len(fit.moments)} moments; the source's own behaviour scores "
                  f"about {fit.expected:.0f}")


def register(app: typer.Typer) -> None:
    """Add `coinlab sim`; main.py imports forecast_cmds first, which adds `sim backtest` and
    `sim forecast` to sim_app."""
    app.add_typer(sim_app, name="sim")
