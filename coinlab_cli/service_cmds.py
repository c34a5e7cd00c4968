"""Service commands: `serve` (uvicorn over the HTTP service) and `keys create|list|revoke`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger.sql import DEFAULT_URL, make_engine
from service.database import upgrade

from .ledger_cmds import DbOption

__all__ = ["register"]

console = Console()
keys_app = typer.Typer(help="API keys and user tokens for the HTTP service.", no_args_is_help=True)


def serve(
    db: DbOption = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, envvar="COINLAB_WORKERS", help=(
        "uvicorn worker processes. With more than one, the brand-coin market runs in a process of its own that "
        "the workers forward its requests to."))] = 1,
    economy_config: Annotated[str | None, typer.Option(envvar="COINLAB_ECONOMY_CONFIG", help=(
        "The economy TOML (default data/economy.toml)."))] = None,
    stripe_api_key: Annotated[str | None, typer.Option(envvar="COINLAB_STRIPE_API_KEY", show_default=False, help=(
        "Stripe's secret API key (prefer the environment variable: arguments show in ps). Without it and the "
        "webhook secret the service warns loudly and /healthz says payments are not configured."))] = None,
    stripe_webhook_secret: Annotated[str | None, typer.Option(envvar="COINLAB_STRIPE_WEBHOOK_SECRET",
                                                               show_default=False, help=(
        "The webhook signing secret (whsec_...); without it every webhook is refused 401."))] = None,
    stripe_api_base: Annotated[str | None, typer.Option(envvar="COINLAB_STRIPE_API_BASE",
                                                        help="Alternative Stripe API base (a local fake).")] = None,
    max_body_bytes: Annotated[int, typer.Option(min=1, envvar="COINLAB_MAX_BODY_BYTES", help=(
        "Largest request body accepted; a larger one is answered 413 before it is read."))] = 1 << 20,
    key_cache_seconds: Annotated[float, typer.Option(min=0, envvar="COINLAB_KEY_CACHE_SECONDS", help=(
        "How long a verified API key is remembered (a revoked key works this much longer at most)."))] = 5.0,
    group_commit: Annotated[bool, typer.Option(envvar="COINLAB_GROUP_COMMIT", help=(
        "Commit concurrent requests' writes together (one COMMIT per batch)."))] = True,
    access_log: Annotated[bool, typer.Option(envvar="COINLAB_LOG_REQUESTS", help=(
        "One JSON line per request on stdout (buffered: written every second, and at shutdown)."))] = True,
) -> None:
    """Run the HTTP service (migrations applied first; OpenAPI at /openapi.json).

    Every setting is also read from its environment variable (COINLAB_DB, COINLAB_WORKERS, ...). Set by serve
    itself for its processes: COINLAB_MIGRATE (done once here), COINLAB_FREEZE_GC, and with several workers
    COINLAB_MARKET_SOCKET and COINLAB_WRITER_SOCKET (the market process's sockets)."""
    import uvicorn

    upgrade(db)
    os.environ["COINLAB_DB"] = db
    os.environ["COINLAB_WORKERS"] = str(workers)
    os.environ["COINLAB_MIGRATE"] = "0"  # done above, once, not by every worker
    os.environ["COINLAB_LOG_REQUESTS"] = "1" if access_log else "0"
    os.environ["COINLAB_FREEZE_GC"] = "1"
    os.environ["COINLAB_MAX_BODY_BYTES"] = str(max_body_bytes)
    os.environ["COINLAB_KEY_CACHE_SECONDS"] = str(key_cache_seconds)
    os.environ["COINLAB_GROUP_COMMIT"] = "1" if group_commit else "0"
    for name, value in (("COINLAB_ECONOMY_CONFIG", economy_config), ("COINLAB_STRIPE_API_KEY", stripe_api_key),
                        ("COINLAB_STRIPE_WEBHOOK_SECRET", stripe_webhook_secret),
                        ("COINLAB_STRIPE_API_BASE", stripe_api_base)):
        if value:
            os.environ[name] = value
    if workers == 1:
        uvicorn.run("service.app:create_app", factory=True, host=host, port=port, access_log=False,
                    log_level="warning")
        return
    market = MarketProcess()
    try:
        market.start()
    except RuntimeError as err:
        market.stop()
        console.print(f"[red]{err}[/red]", highlight=False)
        raise typer.Exit(1) from err
    try:
        os.environ["COINLAB_MARKET_SOCKET"] = market.socket
        os.environ["COINLAB_WRITER_SOCKET"] = market.writer_socket
        uvicorn.run("service.app:create_app", factory=True, host=host, port=port, workers=workers,
                    access_log=False, log_level="warning", timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    finally:
        market.stop()


# How long uvicorn's supervisor waits for a worker to answer its health check before it
# kills the worker and starts another (uvicorn's default: 5 s). A worker answers from a
# thread of its own; on a machine short of CPU that answer can take longer, and each
# replacement imports everything again, which starves the others further: a CI run at
# load 10 had servers replacing their workers every few seconds. A worker really hung is
# replaced after this long instead.
WORKER_HEALTHCHECK_S = 30


class MarketProcess:
    """The process that owns the brand-coin market when several workers serve: this app
    with one worker on a Unix socket (the workers forward market requests to it, see
    service.forward), whose writer also applies the workers' ledger writes (a second
    socket, see service.writer_socket). Restarted if it dies (it rebuilds its books from
    the database); stopped with the service."""

    def __init__(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="coinlab-market-"))
        self.socket, self.writer_socket = str(folder / "market.sock"), str(folder / "writer.sock")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._watcher = threading.Thread(target=self._watch, name="market-process", daemon=True)

    def start(self) -> None:
        self._start()
        self._watcher.start()

    def stop(self) -> None:
        self._stopping = True
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(Path(self.socket).parent, ignore_errors=True)

    def _start(self, timeout: float = 60) -> None:
        Path(self.socket).unlink(missing_ok=True)
        Path(self.writer_socket).unlink(missing_ok=True)
        env = {**os.environ, "COINLAB_WORKERS": "1", "COINLAB_WRITER_SOCKET": self.writer_socket}
        env.pop("COINLAB_MARKET_SOCKET", None)
        # Idle keep-alive connections stay open: the workers hold a pool of them.
        self._proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory",
                                       "--uds", self.socket, "--timeout-keep-alive", "86400",
                                       "--log-level", "warning", "--no-access-log"], env=env)
        deadline = time.monotonic() + timeout
        while not _answers(self.socket):
            if self._proc.poll() is not None:
                raise RuntimeError(f"the market process exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the market process did not answer on {self.socket} within {timeout:.0f} s")
            time.sleep(0.1)

    def _watch(self) -> None:
        while not self._stopping:
            assert self._proc is not None
            code = self._proc.wait()
            if self._stopping or code in (-signal.SIGTERM, -signal.SIGINT):
                return  # stopped with the service (a signal to the whole process group)
            console.print(f"[red]the market process exited with {code}: restarting it[/red]", highlight=False)
            try:
                self._start()
            except (RuntimeError, OSError) as err:
                console.print(f"[red]could not restart the market process: {err}[/red]", highlight=False)
                time.sleep(1)


def _answers(socket: str) -> bool:
    """Does the market process answer GET /healthz on its socket?"""
    import socket as sock

    try:
        with sock.socket(sock.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(socket)
            s.sendall(b"GET /healthz HTTP/1.1\r\nhost: market\r\nconnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="app (acts for any user), admin, read, or user (one user's token).")],
    user: Annotated[str | None, typer.Option(help="The user a --scope user token acts for.")] = None,
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
    db: DbOption = DEFAULT_URL,
) -> None:
    """Create a key; the secret is printed once and only its sha256 is stored."""
    from service.keys import KeyStore

    upgrade(db)
    engine = make_engine(db)
    try:
        key, token = KeyStore(engine).create(scope, user_id=user, name=name)
    except ValueError as err:
        console.print(f"[red]refused[/red]: {err}")
        raise typer.Exit(2) from err
    finally:
        engine.dispose()
    console.print(f"created {key.scope} key {key.id}{' for ' + key.user_id if key.user_id else ''}", style="green")
    print(token)


@keys_app.command("list")
def keys_list(db: DbOption = DEFAULT_URL) -> None:
    """List keys (ids and scopes; secrets are not stored)."""
    from service.keys import KeyStore

    engine = make_engine(db)
    table = Table("id", "scope", "user", "name", "created", "revoked")
    for k in KeyStore(engine).list():
        table.add_row(k.id, k.scope, k.user_id or "", k.name, str(k.created_at), str(k.revoked_at or ""))
    engine.dispose()
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, db: DbOption = DEFAULT_URL) -> None:
    """Revoke a key (processes that verified it stop accepting it within a few seconds)."""
    from service.keys import KeyStore

    engine = make_engine(db)
    done = KeyStore(engine).revoke(key_id)
    engine.dispose()
    if not done:
        console.print(f"[red]no live key {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
