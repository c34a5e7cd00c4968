"""Ledger commands: `db upgrade`, `check`, `grant`, `balance`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ledger import EntryType, Ledger, LedgerError, user_account
from ledger.sql import DEFAULT_URL, SqlStore
from service.database import grant_app_role, upgrade

__all__ = ["DbOption", "open_ledger", "register"]

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="COINLAB_DB", help="Ledger database URL (sqlite:///... or postgresql://...)."),
]

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def open_ledger(db: str) -> Ledger:
    """A Ledger over the SQL database at ``db``, migrated to the latest schema."""
    upgrade(db)
    return Ledger(SqlStore(db))


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = DEFAULT_URL,
    revision: str = "head",
    app_role: Annotated[str | None, typer.Option(
        help="PostgreSQL: also create/refresh the role the service runs as (owns no table, "
             "reads and inserts the journal, cannot disable its triggers).")] = None,
    app_password: Annotated[str | None, typer.Option(
        envvar="COINLAB_APP_PASSWORD",
        help="The app role's password (it may log in); without one it is NOLOGIN.")] = None,
) -> None:
    """Run the Alembic migrations on the ledger database (as the tables' owner)."""
    upgrade(db, revision)
    console.print(f"[green]database at {db} is at revision {revision}[/green]")
    if app_role is not None:
        try:
            grant_app_role(db, app_role, app_password)
        except ValueError as err:
            err_console.print(f"[red]refused[/red]: {err}")
            raise typer.Exit(2) from err
        console.print(f"[green]role {app_role} ({'login' if app_password else 'nologin'}) has the service's "
                      "grants and owns no table[/green]")


def check(
    db: DbOption = DEFAULT_URL,
    anchor: Annotated[bool, typer.Option(
        "--anchor", help="Print only the journal's anchor (<entry id>:<hash> of chain 1, then ,<chain>:<entry id>:<hash> per other chain in use) to keep elsewhere.")] = False,
    expect_anchor: Annotated[str | None, typer.Option(
        help="An anchor printed earlier: fail if the history up to it changed.")] = None,
) -> None:
    """Prove the stored balances, per-asset zero sums and holds from the journal, and the journal
    from its hash chain and the transactions and keys tables (exit 1 on any problem)."""
    ledger = Ledger(SqlStore(db))
    with console.status("replaying the journal..."):
        try:
            report = ledger.check(expect_anchor=expect_anchor)
        except ValueError as err:  # a malformed anchor
            err_console.print(f"[red]refused[/red]: {err}")
            raise typer.Exit(2) from err
    if report.ok and anchor:
        print(report.anchor)
        return
    if report.ok:
        console.print(f"[green]ok[/green]: {report.entries} journal entries, {report.accounts} accounts; "
                      "balances match the journal, every asset sums to zero, escrow matches the holds, "
                      "the hash chain and the transactions and keys agree"
                      + (f"; anchor {expect_anchor} holds" if expect_anchor else ""))
        console.print(f"anchor {report.anchor}", soft_wrap=True)
        return
    err_console.print(f"[red]{len(report.problems)} problem(s)[/red] in {report.entries} journal entries:")
    for line in report.problems:
        err_console.print(f"  - {line}", soft_wrap=True)
    raise typer.Exit(1)


def grant(
    user: Annotated[str, typer.Option(help="User id (the account is user:<id>).")],
    amount: Annotated[int, typer.Option(help="Amount in the asset's minor unit (> 0).")],
    db: DbOption = DEFAULT_URL,
    asset: Annotated[str, typer.Option(help="Asset code.")] = "COIN",
    note: Annotated[str | None, typer.Option(help="Why the grant was made.")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key: re-running with it grants once.")] = None,
) -> None:
    """Grant coins to a user (ADMIN_GRANT, issued from the mint)."""
    ledger = open_ledger(db)
    try:
        tx = ledger.mint(user_account(user), amount, asset, EntryType.ADMIN_GRANT, key=key, note=note)
    except LedgerError as err:
        err_console.print(f"[red]refused[/red]: {err}")
        raise typer.Exit(2) from err
    verb = "already granted" if tx.replayed else "granted"
    console.print(f"{verb} {amount} {asset} to {user} (transaction {tx.id}); "
                  f"balance now {ledger.balance(user_account(user), asset)}")


def balance(
    user: Annotated[str, typer.Option(help="User id.")],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Print a user's balances and what is held in escrow."""
    ledger = Ledger(SqlStore(db))
    account = user_account(user)
    table = Table("asset", "available", "held", title=account)
    balances = ledger.balances(account)
    for asset in sorted(balances):
        table.add_row(asset, str(balances[asset]), str(ledger.held(account, asset)))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command()(check)
    app.command()(grant)
    app.command()(balance)
