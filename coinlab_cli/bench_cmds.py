"""`coinlab bench NAME`: run one of the benchmarks in bench/ (each prints its figures
beside a reference measured in the same run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def bench(
    name: Annotated[str, typer.Argument(help="ledger, market, sim, service or dashboards.")],
    args: Annotated[list[str] | None, typer.Argument(help="Passed on to the benchmark (e.g. -- --seconds 2).")] = None,
) -> None:
    """Run a benchmark from bench/ and print its figures."""
    script = BENCH_DIR / f"{name}.py"
    if not script.is_file():
        known = ", ".join(sorted(p.stem for p in BENCH_DIR.glob("*.py"))) or "none (run from a source checkout)"
        raise typer.BadParameter(f"no benchmark {name!r}; known: {known}", param_hint="NAME")
    raise typer.Exit(subprocess.call([sys.executable, str(script), *(args or [])]))


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench)
