"""Service commands: `serve` (uvicorn over the HTTP service) and `keys create|list|revoke`."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger.sql import DEFAULT_URL, make_engine, upgrade

from .ledger_cmds import DbOption

__all__ = ["register"]

console = Console()
keys_app = typer.Typer(help="API keys and user tokens for the HTTP service.", no_args_is_help=True)


def serve(
    db: DbOption = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes. The brand-coin market "
                                         "keeps its books in one process, so its routes answer 503 "
                                         "unless this is 1.")] = 1,
    stripe_api_base: Annotated[str | None, typer.Option(envvar="COINLAB_STRIPE_API_BASE",
                                                        help="Alternative Stripe API base (a local fake).")] = None,
    access_log: Annotated[bool, typer.Option(help="One JSON line per request on stdout.")] = True,
) -> None:
    """Run the HTTP service (migrations applied first; OpenAPI at /openapi.json)."""
    import uvicorn

    upgrade(db)
    os.environ["COINLAB_DB"] = db
    os.environ["COINLAB_WORKERS"] = str(workers)
    os.environ["COINLAB_MIGRATE"] = "0"  # done above, once, not by every worker
    os.environ["COINLAB_LOG_REQUESTS"] = "1" if access_log else "0"
    os.environ["COINLAB_FREEZE_GC"] = "1"
    if stripe_api_base:
        os.environ["COINLAB_STRIPE_API_BASE"] = stripe_api_base
    uvicorn.run("service.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level="warning")


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
