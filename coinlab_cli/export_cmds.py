"""`coinlab export`: the SQL ledger -> the warehouse Parquet, incrementally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ledger.sql import DEFAULT_URL

from .ledger_cmds import DbOption

__all__ = ["register"]

console = Console()


def export(
    db: DbOption = DEFAULT_URL,
    to: Annotated[Path, typer.Option("--to", help="Warehouse root.")] = Path("data/warehouse"),
) -> None:
    """Export what is new in the ledger (journal, balances, holds, payments, market) to the warehouse
    as source/run_id "prod"; safe while the service writes."""
    from dashboards.export import export as run_export

    with console.status("exporting..."):
        result = run_export(db, to)
    shown = ", ".join(f"{t} {n:,}" for t, n in result.rows.items())
    console.print(f"[green]exported[/green] to {to} in {result.seconds:.2f} s: {shown}; "
                  f"journal watermark {result.entries_watermark}")


def register(app: typer.Typer) -> None:
    app.command()(export)
