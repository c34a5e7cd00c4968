"""`coinlab demo`: the newcomer's tour. Until the demo issue lands it says so, and
shows what can already be run."""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["register"]

console = Console()


def demo() -> None:
    """Set up, simulate and open the dashboards (not yet available: see the README)."""
    console.print(
        "[yellow]coinlab demo is not yet available[/yellow]: the simulator, dashboards and the "
        "demo itself are still being built.\nWhat works today:\n"
        "  coinlab db upgrade                      create data/ledger.sqlite\n"
        "  coinlab grant --user alice --amount 50  an admin grant through the ledger\n"
        "  coinlab balance --user alice            her balances\n"
        "  coinlab check                           prove every balance from the journal\n"
        "  coinlab config show                     the effective economy config\n"
        "  make test                               the whole test suite"
    )


def register(app: typer.Typer) -> None:
    app.command()(demo)
