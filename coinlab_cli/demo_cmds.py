"""`coinlab demo`: the newcomer's tour (what it does: `coinlab_cli.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register"]

console = Console()


def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the ledger, warehouse and runs live.")] = Path("data"),
    users: Annotated[int, typer.Option(min=2, help="Users of production's population (data/scenarios/demo.toml "
                                       "says who they are).")] = 400,
    days: Annotated[int, typer.Option(min=1, help="Days the population lives in production (ending yesterday).")] = 21,
    seed: Annotated[int, typer.Option(help="The population's seed (a re-run after a crash reuses the first run's).")] = 1,
    sim_users: Annotated[int | None, typer.Option(help="Users per scenario run (default: the scenario's).")] = None,
    sim_days: Annotated[int | None, typer.Option(help="Days per scenario run (default: the scenario's).")] = None,
    analysis: Annotated[bool, typer.Option("--analysis/--no-analysis", help="Calibrate a scenario to production, "
                                           "back-test it and forecast 90 days (about two minutes).")] = True,
    dash: Annotated[bool, typer.Option("--dash/--no-dash", help="Start the dashboards at the end "
                                       "(--no-dash: stop after printing the URLs).")] = True,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the dashboards in a browser.")] = True,
    port: Annotated[int, typer.Option(help="Service port (0, or taken: a free one).")] = 8000,
    dash_port: Annotated[int, typer.Option(help="Dashboards port (a free one if taken).")] = 8501,
) -> None:
    """Set up the ledger, let the simulator's population live a few days as production's users
    through the HTTP service (Stripe purchases with signed webhooks, pools, a brand coin and its
    market), run the baseline and pump_and_dump scenarios, export to the warehouse and open the
    dashboards. A second run reuses all of it; a run that died half-way replays without doubling."""
    from .demo import run_demo

    out = run_demo(data_dir, users=users, days=days, seed=seed, sim_users=sim_users, sim_days=sim_days,
                   analysis=analysis, dash=dash,
                   open_browser=open_browser, port=port, dash_port=dash_port, console=console)
    if not out.get("check_ok"):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(demo)
