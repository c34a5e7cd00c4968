"""The demo's last step: what the simulator makes of the demo's production (issue 20).

After production is exported, `analyse_production`

1. calibrates the behaviour model to production (`sim.calibrate`), writes the scenario
   with its provenance to ``<data>/runs/calibrated.toml`` and runs it once into the
   warehouse (kind ``calibrated``), so the dashboards show the fitted model beside
   production;
2. back-tests: fits on the first two thirds of production's days, simulates the rest
   from production's state on the last fit day, and scores it (`sim.forecast.backtest`,
   kind ``backtest``);
3. forecasts 90 days from production's state today under the current config and with
   the daily login reward 3 coins higher, on the same seeds (`sim.forecast.forecast`,
   kind ``forecast``).

Each step is kept in ``demo-state.json`` once done and skipped by a later run whose
runs are still in the warehouse. A production too thin for a step (fewer than 50 users
or 7 fit days, no purchases) is said so and the step skipped: the demo goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

__all__ = ["FORECAST_DAYS", "LOGIN_RAISE", "SEEDS", "analyse_production"]

SEEDS = 3  # seeds of the back-test and the forecast: a band, in about a minute here
FORECAST_DAYS = 90
LOGIN_RAISE = 3  # the forecast's question: what if the daily login paid 3 coins more?


def _ran(warehouse: Path, run_ids: list[str]) -> bool:
    return bool(run_ids) and all(any((warehouse / "runs" / f"run_id={r}").glob("*.parquet")) for r in run_ids)


def _ticker(p: Progress, description: str, total: int | None) -> Callable[..., None]:
    task = p.add_task(description, total=total)
    return lambda *_: p.advance(task)


def analyse_production(data: Path, warehouse: Path, population: str, state: dict[str, Any], console: Console,
                       progress: Callable[[], Progress]) -> dict[str, Any]:
    """Calibrate, back-test and forecast from production in ``warehouse``; ``state`` (the
    demo's) says what an earlier run did and is updated in place. ``population``: the
    scenario production's users were drawn from (the back-test's base)."""
    from sim.calibrate import CalibrationError, calibrate
    from sim.forecast import ForecastError, backtest, forecast
    from sim.runner import run
    from sim.scenario import load_scenario
    from sim.state import StateError, source_days

    done: dict[str, Any] = state.setdefault("analysis", {})
    thin = (CalibrationError, ForecastError, StateError)
    cal_path = data / "runs" / "calibrated.toml"

    if not (cal_path.exists() and _ran(warehouse, done.get("calibrated", []))):
        try:
            with progress() as p:
                task = p.add_task("calibrating to production", total=None)
                cal = calibrate(warehouse, "prod", progress=lambda stage, n, total: p.update(task, completed=n,
                                                                                           total=total))
        except thin as err:
            console.print(f"[yellow]! calibration skipped: {err}[/yellow]")
            return done
        cal_path.write_text(cal.to_toml(base=population))
        sc = load_scenario(cal_path)
        with progress() as p:
            _, res = run(sc, root=warehouse, kind="calibrated", run_id=f"calibrated-{cal.to_day}",
                         on_day=_ticker(p, "the calibrated model", sc.population.days))
        done["calibrated"] = [res.run_id]
        console.print(f"[green]✓[/green] calibrated to production {cal.from_day} .. {cal.to_day} ({cal.users} "
                      f"users, fit error {cal.fit_error:.2f} standard errors): {cal_path}, run {res.run_id}")
    else:
        console.print(f"[green]✓[/green] calibrated scenario {cal_path}: reused")

    first, last = source_days(warehouse, "prod")
    days = (last - first).days + 1
    predict = max(1, days // 3)
    if not _ran(warehouse, done.get("backtest", [])):
        try:
            with progress() as p:
                bt = backtest(warehouse, "prod", days - predict, predict, seeds=SEEDS, scenario=population,
                              on_day=_ticker(p, f"back-test: fit {days - predict} days, predict {predict}",
                                             SEEDS * predict))
            done["backtest"] = bt.run_ids
            mapes = ", ".join(f"{s.metric} {100 * s.mape:.0f}%" for s in bt.scores if s.mape is not None)
            console.print(f"[green]✓[/green] back-test {bt.group}: MAPE {mapes}")
        except thin as err:
            console.print(f"[yellow]! back-test skipped: {err}[/yellow]")
    else:
        console.print("[green]✓[/green] back-test already in the warehouse")

    if not _ran(warehouse, done.get("forecast", [])):
        current = load_scenario(cal_path).config.rewards.daily_login
        new = data / "runs" / "daily_login_raise.toml"
        new.write_text(f"# the demo's forecast question: the daily login at {current} + {LOGIN_RAISE} coins\n"
                       f"[rewards]\ndaily_login = {current + LOGIN_RAISE}\n")
        try:
            with progress() as p:
                fc = forecast(warehouse, new, source="prod", days=FORECAST_DAYS, seeds=SEEDS, scenario=cal_path,
                              on_day=_ticker(p, f"forecast: {FORECAST_DAYS} days, daily login {current} vs "
                                                f"{current + LOGIN_RAISE}", SEEDS * 2 * FORECAST_DAYS))
            done["forecast"] = [r for ids in fc.run_ids.values() for r in ids]
            d = fc.difference("revenue_cents") if "revenue_cents" in fc.figures["current"][0] else None
            extra = f"; revenue new - current {d.mean / 100:+,.0f} USD [{d.low / 100:,.0f}, {d.high / 100:,.0f}]" \
                if d is not None else ""
            console.print(f"[green]✓[/green] forecast {fc.group} from {fc.from_day}: {FORECAST_DAYS} days, "
                          f"{len(fc.seeds)} seeds{extra}")
        except thin as err:
            console.print(f"[yellow]! forecast skipped: {err}[/yellow]")
    else:
        console.print("[green]✓[/green] forecast already in the warehouse")
    return done
