"""`coinlab dash`: the Streamlit dashboards over the warehouse."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["APP", "register", "streamlit_argv"]

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


def streamlit_argv(port: int, headless: bool, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", address, "--server.headless", str(headless).lower(),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            # Users see the dashboards, not Streamlit's Deploy button and developer menu.
            "--client.toolbarMode", "minimal"]


def dash(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    warehouse: Annotated[Path, typer.Option(help="Warehouse root.")] = Path("data/warehouse"),
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = True,
    address: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    warm: Annotated[bool, typer.Option(help="Build missing cached rollups of every source first.")] = True,
) -> None:
    """Serve the dashboards (Overview, Supply, Concentration, Revenue, Pools, Markets, Experiments)."""
    if warm:
        _warm(warehouse)
    env = dict(os.environ, COINLAB_WAREHOUSE=str(warehouse.resolve()))
    argv = streamlit_argv(port, headless, address)
    # Become the Streamlit server: Ctrl-C and kill reach it directly.
    os.execve(argv[0], argv, env)


def _warm(root: Path) -> None:
    from rich.progress import track

    from dashboards.flows import warm
    from dashboards.warehouse import connect, sources

    con = connect(root)
    for src in track(sources(con), description="rollups"):
        warm(con, src.run_id)


def register(app: typer.Typer) -> None:
    app.command()(dash)
