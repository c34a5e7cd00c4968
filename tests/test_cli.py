"""The `coinlab` command as a whole: every area's commands are there."""

import typer
from typer.testing import CliRunner

from coinlab_cli.main import app


def test_every_command_of_the_design_is_registered():
    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"demo", "serve", "db", "check", "export", "sim", "dash", "bench"} <= names


def test_bench_names_the_known_benchmarks_when_asked_for_an_unknown_one():
    result = CliRunner().invoke(app, ["bench", "nope"])
    assert result.exit_code == 2
    assert "ledger" in result.output and "market" in result.output
