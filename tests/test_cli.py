"""The `coinlab` command as a whole: every area's commands are there."""

import os

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


def test_serve_with_workers_gives_them_time_to_answer_the_health_check(monkeypatch, tmp_path):
    """uvicorn kills a worker that does not answer its supervisor's ping in time (5 s by
    default): under CPU starvation that replaced workers in a loop. `coinlab serve` gives
    them `WORKER_HEALTHCHECK_S`."""
    import uvicorn

    from coinlab_cli import service_cmds

    seen: dict = {}
    monkeypatch.setattr(os, "environ", dict(os.environ))  # serve sets its processes' variables
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(service_cmds.MarketProcess, "start", lambda self: None)
    monkeypatch.setattr(service_cmds.MarketProcess, "stop", lambda self: None)
    monkeypatch.setattr(service_cmds.MarketProcess, "socket", "/tmp/none.sock", raising=False)
    monkeypatch.setattr(service_cmds.MarketProcess, "writer_socket", "/tmp/none-w.sock", raising=False)
    result = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'l.db'}", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert seen["workers"] == 2 and seen["timeout_worker_healthcheck"] == service_cmds.WORKER_HEALTHCHECK_S >= 30
