"""The whole database's one Alembic history (service.database): the ledger core's
revision, the economy layer's and the service's, each beside its tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ledger.sql import make_engine
from service import database

PRE_LAYOUT = Path(__file__).resolve().parent / "pre_layout_migrations"
_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("pg_cluster").create_database(f"prelayout{next(_names)}")


def _upgrade_with_the_pre_layout_history(url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(PRE_LAYOUT))
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()


def _state(url: str) -> tuple[tuple[str, ...], set[str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        revisions, tables = MigrationContext.configure(conn).get_current_heads(), set(inspect(conn).get_table_names())
    engine.dispose()
    return revisions, tables


def test_the_history_is_one_line_through_every_layer():
    script = ScriptDirectory.from_config(database.config())
    assert [r.revision for r in script.walk_revisions()] == ["0006", "0005", "0004", "0003", "0002", "0001"]
    assert script.get_heads() == ["0006"]


def test_a_database_upgraded_before_the_layout_upgrades_to_the_same_schema(empty_url):
    _upgrade_with_the_pre_layout_history(empty_url)
    assert _state(empty_url)[0] == ("0003",)  # the pre-layout history ended there
    database.upgrade(empty_url)
    head = ScriptDirectory.from_config(database.config()).get_current_head()
    assert _state(empty_url)[0] == (head,)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), database.metadata) == []
    engine.dispose()


def test_the_chain_migration_backfills_an_existing_journal(empty_url):
    """A journal written before revision 0004 is chained in id order by it, and new
    entries chain after it."""
    from datetime import UTC, datetime

    from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, String, Table, insert, text

    from ledger import Ledger
    from ledger.engine import GENESIS, seal
    from ledger.sql import SqlStore
    from ledger.sql import schema as sql_schema

    entries_0003 = Table("entries", MetaData(), *(
        Column(c.name, DateTime(timezone=True) if c.name == "time" else JSON if c.name == "metadata"
               else BigInteger if isinstance(c.type, BigInteger) else String)
        for c in sql_schema.entries.columns if c.name not in ("hash", "chain")))
    database.upgrade(empty_url, "0003")
    Ledger(SqlStore(empty_url))  # assets and system accounts, as 0003's code made them
    t = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        for row in (
            (1, "t1", "ADMIN_GRANT", 10, "system:mint", "user:alice", 0, -10, 0, 10, "k1", {"why": "x"}),
            (2, "t2", "TRANSFER", 4, "user:alice", "user:bob", 10, 6, 0, 4, None, None),
        ):
            conn.execute(insert(entries_0003).values(
                dict(zip(["id", "tx_id", "entry_type", "amount", "from_account", "to_account", "from_before",
                          "from_after", "to_before", "to_after", "idempotency_key", "metadata"], row, strict=True),
                     time=t, asset="COIN")))
            conn.execute(insert(sql_schema.transactions).values(id=row[1], time=t, entry_type=row[2],
                                                                idempotency_key=row[10]))
        conn.execute(text("INSERT INTO idempotency_keys (key, fingerprint, tx_id) VALUES ('k1', 'f', 't1')"))
        conn.execute(text("INSERT INTO balances (account, asset, balance) VALUES ('system:mint', 'COIN', -10), "
                          "('user:alice', 'COIN', 6), ('user:bob', 'COIN', 4)"))
    engine.dispose()

    database.upgrade(empty_url)
    store = SqlStore(empty_url)
    chain = list(store.iter_chain())
    assert [h for _e, _c, h in chain] == seal(GENESIS, [e for e, _c, _h in chain])
    assert {c for _e, c, _h in chain} == {1}  # the journal before the chains were several
    assert store.chain_heads() == {1: (2, chain[-1][2]), **{c: (0, GENESIS) for c in range(2, sql_schema.CHAINS + 1)}}
    ledger = Ledger(store)
    assert ledger.mint("user:carol", 1).entries[0].id == 3
    report = ledger.check()
    assert report.ok and report.anchor.startswith("3:")
    store.engine.dispose()


def _as(url: str, role: str, password: str) -> str:
    return url.replace("postgres@", f"{role}:{password}@", 1)


def test_the_app_role_runs_the_ledger_but_cannot_disable_triggers_or_truncate(pg_url):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from typer.testing import CliRunner

    from coinlab_cli.main import app
    from ledger import Ledger
    from ledger.sql import SqlStore

    role = f"coinlab_app_{next(_names)}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", pg_url, "--app-role", role, "--app-password", "s3cret"])
    assert result.exit_code == 0, result.output
    app_url = _as(pg_url, role, "s3cret")
    database.upgrade(app_url)  # what `coinlab serve` does at start: at head, a no-op the role may run
    ledger = Ledger(SqlStore(app_url))
    ledger.mint("user:alice", 10, key="g")
    ledger.transfer("user:alice", "user:bob", 3)
    hold = ledger.lock("user:alice", 2)
    ledger.release(hold.id, "user:bob", 2)
    assert ledger.check().ok and ledger.balance("user:bob") == 5

    engine = make_engine(app_url)
    for statement in ("ALTER TABLE entries DISABLE TRIGGER entries_append_only",
                      "ALTER TABLE idempotency_keys DISABLE TRIGGER USER",
                      "TRUNCATE entries", "TRUNCATE idempotency_keys",
                      "DELETE FROM entries", "UPDATE transactions SET entry_type = 'FEE'",
                      "DELETE FROM idempotency_keys", "DROP TABLE entries"):
        with pytest.raises(DBAPIError, match="must be owner|permission denied"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
    assert ledger.check().ok
    ledger.store.engine.dispose()  # type: ignore[attr-defined]


def test_the_app_role_may_not_be_the_tables_owner(pg_url):
    from typer.testing import CliRunner

    from coinlab_cli.main import app

    result = CliRunner().invoke(app, ["db", "upgrade", "--db", pg_url, "--app-role", "postgres"])
    assert result.exit_code == 2 and "owns" in result.output


def test_without_a_password_the_app_role_cannot_log_in(pg_url):
    from sqlalchemy import text

    role = f"coinlab_app_{next(_names)}"
    database.grant_app_role(pg_url, role)
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": role}) is False
    engine.dispose()


def _downgrade(url: str, revision: str) -> None:
    cfg = database.config()
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def test_the_chains_migration_goes_back_to_one_chain_only_while_one_is_used(pg_url):
    from sqlalchemy import text

    from ledger import Ledger
    from ledger.sql import SqlStore

    ledger = Ledger(SqlStore(pg_url))
    ledger.mint("user:alice", 5)
    _downgrade(pg_url, "0005")  # every entry is in chain 1: nothing is lost
    database.upgrade(pg_url)
    ledger = Ledger(SqlStore(pg_url))
    assert ledger.check().ok
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("SELECT 1 FROM journal_head WHERE id = 1 FOR UPDATE"))
        ledger.mint("user:bob", 3)  # takes chain 2 while chain 1 is held
    engine.dispose()
    with pytest.raises(RuntimeError, match="chains other than 1"):
        _downgrade(pg_url, "0005")
    assert _state(pg_url)[0] == ("0006",) and ledger.check().ok
