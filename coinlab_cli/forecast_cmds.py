"""`coinlab sim backtest` and `coinlab sim forecast`: simulating forward from a warehouse
source's state (sim/forecast.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim.state import StateError

from .sim_cmds import _iv, _progress, console, err_console, sim_app

__all__ = ["backtest_cmd", "forecast_cmd"]

SourceOption = Annotated[str, typer.Option("--source", help="'prod' (the exported production) or a run id.")]
WarehouseOption = Annotated[Path | None, typer.Option("--warehouse", "--out",
                                                      help="Warehouse root (default data/warehouse).")]
SeedsOption = Annotated[int, typer.Option("--seeds", help="Seeds to simulate (the band and the intervals).")]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


@sim_app.command("backtest")
def backtest_cmd(
    fit_days: Annotated[int, typer.Option("--fit-days", help="Days to fit on, from the source's first day.")],
    predict_days: Annotated[int, typer.Option("--predict-days", help="Days to simulate after them and score.")],
    source: SourceOption = "prod",
    seeds: SeedsOption = 3,
    scenario: Annotated[str, typer.Option(help="Base scenario the calibration starts from.")] = "baseline",
    no_calibrate: Annotated[bool, typer.Option("--no-calibrate", help="Score the base scenario's behaviour as it "
                                               "is instead of calibrating on the fit days.")] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Fit on the source's first N days, simulate the next M from its state at day N and
    print the error (MAPE) of daily actives, purchases, revenue, issuance and burn
    against what happened, with the band across seeds. The forecast runs are written
    to the warehouse with kind 'backtest'."""
    from sim.forecast import ForecastError, backtest, calibrated, uncalibrated
    from sim.warehouse import DEFAULT_ROOT

    root = warehouse or DEFAULT_ROOT
    try:
        with _progress() as progress:
            task = progress.add_task("back-test", total=seeds * predict_days)
            done = [0]

            def tick(day: int, days: int) -> None:
                done[0] += 1
                progress.update(task, completed=done[0])

            bt = backtest(root, source, fit_days, predict_days, seeds=seeds, scenario=scenario, on_day=tick,
                          calibrator=uncalibrated if no_calibrate else calibrated)
    except (ForecastError, StateError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"back-test {bt.group}: {bt.source}, fit to {bt.fit_last}, "
                        f"{bt.days[0]} .. {bt.days[-1]} predicted, {len(bt.runs)} seeds")
    for col in ("metric", "actual / day", "forecast / day", "MAPE (seed mean)", "MAPE per seed (min-max)",
                "days inside the band", "total error"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for s in bt.scores:
        per_seed = [x for x in s.seed_mapes if x is not None]
        spread = f"{_pct(min(per_seed))} - {_pct(max(per_seed))}" if per_seed else "-"
        table.add_row(s.metric, f"{s.actual_mean:,.1f}", f"{s.forecast_mean:,.1f}", _pct(s.mape), spread,
                      _pct(s.coverage), _pct(s.total_error))
    console.print(table)
    console.print(f"calibration: {bt.calibration}")
    console.print(f"runs (kind backtest): {', '.join(bt.run_ids)} in {root}")


@sim_app.command("forecast")
def forecast_cmd(
    config: Annotated[Path, typer.Option("--config", help="The new config: a TOML of overrides on the current "
                                         "one ([rewards] daily_login = 5, ...).")],
    source: SourceOption = "prod",
    days: Annotated[int, typer.Option(help="Days to simulate forward.")] = 90,
    seeds: SeedsOption = 5,
    calibrated: Annotated[str, typer.Option("--calibrated", help="The scenario of the current config and the "
                                            "fitted behaviour (a .toml from `sim calibrate`, or a name).")]
    = "baseline",
    warehouse: WarehouseOption = None,
) -> None:
    """From the source's state on its last day, simulate DAYS days under the current
    config and under the new one on the same seeds, and print each with its 95% interval
    and the paired difference (issuance, burn, supply, revenue, actives, retention, Gini).
    Runs are written with kind 'forecast'; a config that changes nothing is said so and
    simulated once."""
    from sim.forecast import FORECAST_METRICS, ForecastError, forecast
    from sim.warehouse import DEFAULT_ROOT

    root = warehouse or DEFAULT_ROOT
    try:
        with _progress() as progress:
            task = progress.add_task("forecast", total=None)
            done = [0]

            def tick(day: int, total: int) -> None:
                done[0] += 1
                progress.update(task, completed=done[0])

            fc = forecast(root, config, source=source, days=days, seeds=seeds, scenario=calibrated, on_day=tick)
    except (ForecastError, StateError) as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    title = f"forecast {fc.group}: {fc.source} from {fc.from_day}, {days} days, {len(fc.seeds)} seeds"
    if fc.no_change:
        console.print(f"[yellow]{config} changes nothing in the current config: the difference is zero; "
                      "the current config was simulated once.[/yellow]")
        table = Table("metric", "current [95% CI]", title=title)
        for k in FORECAST_METRICS:
            table.add_row(k, _iv(fc.summary("current", k)))
    else:
        console.print(f"changed: {', '.join(fc.changes)}")
        table = Table("metric", "current [95% CI]", "new [95% CI]", "new - current [95% CI]", "", title=title)
        for k in FORECAST_METRICS:
            d = fc.difference(k)
            table.add_row(k, _iv(fc.summary("current", k)), _iv(fc.summary("new", k)), _iv(d),
                          "*" if d.excludes_zero() else "")
        table.caption = "* the paired difference's interval excludes 0"
    console.print(table)
    console.print(f"runs (kind forecast, group {fc.group}) in {root}")
