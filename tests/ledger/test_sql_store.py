"""What only the SQL store has: migrations, the database-level journal guard, and
`coinlab check` catching a balance tampered with directly in the database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger import AccountFrozen, InsufficientFunds, Ledger, user_account
from ledger.sql import SqlStore, make_engine
from service.database import metadata
from tests.support.statements import record_statements

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_migrations_create_exactly_the_schema_the_store_queries(db_url):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_journal_rows_cannot_be_updated_or_deleted(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(user_account("a"), 10)
    engine = make_engine(db_url)
    for statement in ("UPDATE entries SET amount = 11", "DELETE FROM entries"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert ledger.balance(user_account("a")) == 10
    assert ledger.check().ok


def test_check_catches_a_balance_tampered_in_the_database(db_url):
    assert runner.invoke(app, ["grant", "--db", db_url, "--user", "alice", "--amount", "50"]).exit_code == 0
    assert runner.invoke(app, ["check", "--db", db_url]).exit_code == 0
    with make_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE balances SET balance = 51 WHERE account = 'user:alice'"))
    result = runner.invoke(app, ["check", "--db", db_url])
    assert result.exit_code == 1
    assert "user:alice COIN: stored 51, journal gives 50" in result.output


def test_check_catches_a_hold_whose_escrow_was_drained(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(user_account("a"), 10)
    ledger.lock(user_account("a"), 4)
    with make_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE holds SET amount = 3"))
    problems = ledger.check().problems
    assert any("LOCKED holds add up to 3" in p for p in problems)


def test_grant_refuses_bad_input_and_changes_nothing(db_url):
    result = runner.invoke(app, ["grant", "--db", db_url, "--user", "bob", "--amount", "0"])
    assert result.exit_code == 2
    assert "positive integer" in result.output
    assert Ledger(SqlStore(db_url)).balances(user_account("bob")) == {}


def test_balance_command_shows_available_and_held(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(user_account("carol"), 30)
    ledger.lock(user_account("carol"), 12)
    result = runner.invoke(app, ["balance", "--db", db_url, "--user", "carol"])
    assert result.exit_code == 0
    assert "18" in result.output and "12" in result.output


def test_an_asset_created_by_another_process_is_usable_at_once(db_url):
    first, second = Ledger(SqlStore(db_url)), Ledger(SqlStore(db_url))
    first.create_asset("GEM", 0)
    second.mint(user_account("a"), 5, "GEM")
    assert first.balance(user_account("a"), "GEM") == 5


def test_one_statement_reads_on_postgres_open_no_transaction(pg_url, monkeypatch):
    """A balance or history read is one statement outside a transaction (BEGIN and the
    pool's ROLLBACK cost two more round trips each); writes stay in transactions."""
    store = SqlStore(pg_url)
    ledger = Ledger(store)
    seen = record_statements(store, monkeypatch)

    ledger.mint(user_account("a"), 5)
    writes = [autocommit for _, autocommit in seen]
    seen.clear()
    assert ledger.balance(user_account("a")) == 5
    assert [h.amount for h in ledger.history(user_account("a"))] == [5]
    assert store.balances(user_account("a")) == {"COIN": 5}
    assert seen and all(sql.split()[0] == "SELECT" and autocommit for sql, autocommit in seen)
    assert writes and not any(writes)
    store.engine.dispose()


def test_awkward_text_survives_the_bulk_write(db_url):
    # A batch's rows travel as arrays (binary on PostgreSQL): quotes, braces, commas,
    # backslashes, NULL-looking text and non-ASCII come back exactly as written.
    store = SqlStore(db_url)
    ledger = Ledger(store)
    awkward = 'say "hi", {braced} \\ back\\slash, NULL, \u00e9t\u00e9 \u2603'
    ledger.mint(user_account("a"), 7, note=awkward, metadata={"k": awkward, "n": [1, None]}, key=awkward,
                ref_type="r,{}", ref_id="NULL")
    (entry,) = store.entries(account=user_account("a"))
    assert (entry.note, entry.metadata, entry.idempotency_key, entry.ref_type, entry.ref_id) == (
        awkward, {"k": awkward, "n": [1, None]}, awkward, "r,{}", "NULL")
    assert ledger.mint(user_account("a"), 7, note=awkward, metadata={"k": awkward, "n": [1, None]},
                       key=awkward, ref_type="r,{}", ref_id="NULL").replayed
    store.engine.dispose()


def test_the_entry_ids_a_batch_returns_are_those_the_journal_stored(db_url):
    from datetime import UTC, datetime

    from ledger import MINT, Posting, TransferRequest

    store = SqlStore(db_url)
    Ledger(store)  # creates the COIN asset
    requests = [TransferRequest((Posting(MINT, user_account(f"u{i}"), "COIN", 10 + i),
                                 Posting(MINT, user_account("x"), "COIN", 1 + i)), "ADMIN_GRANT", note=f"n{i}")
                for i in range(6)]
    returned = [e for tx in store.apply_many(requests, datetime.now(UTC)) for e in tx.entries]
    stored = store.entries()
    assert [e.id for e in returned] == sorted(e.id for e in returned)  # journal order
    assert returned == stored
    store.engine.dispose()


def test_a_repeated_key_on_postgres_returns_the_original_transaction_as_stored(pg_url):
    # The replay is read back from the database (transaction and entries in one round
    # trip): the same ids, journal ids and balances before and after, and nothing new.
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(user_account("a"), 50)
    first = ledger.transfer(user_account("a"), user_account("b"), 20, key="once", ref_type="order", ref_id="o1")
    again = ledger.transfer(user_account("a"), user_account("b"), 20, key="once", ref_type="order", ref_id="o1")
    assert again.replayed and not first.replayed
    assert (again.id, again.time, again.entry_type, again.entries) == (first.id, first.time, first.entry_type,
                                                                       first.entries)
    assert first.entries[0].from_after == 30 and ledger.balance(user_account("b")) == 20
    assert len(ledger.store.entries()) == 2


def test_a_frozen_payer_is_refused_on_postgres_and_its_key_stays_unused(pg_url):
    # The flags come back in the statement that locks the balance rows and loads the keys.
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(user_account("a"), 50)
    ledger.freeze(user_account("a"))
    with pytest.raises(AccountFrozen):
        ledger.transfer(user_account("a"), user_account("b"), 5, key="k")
    assert ledger.store.existing_keys({"k"}) == set() and ledger.balance(user_account("a")) == 50
    ledger.freeze(user_account("a"), False)
    assert not ledger.transfer(user_account("a"), user_account("b"), 5, key="k").replayed
    assert ledger.balance(user_account("b")) == 5 and ledger.check().ok


def test_an_allow_negative_account_may_pay_on_postgres_others_may_not(pg_url):
    ledger = Ledger(SqlStore(pg_url))
    ledger.open_account("system:float", allow_negative=True)
    ledger.transfer("system:float", user_account("a"), 5, key="float")
    with pytest.raises(InsufficientFunds):
        ledger.transfer(user_account("b"), user_account("a"), 1, key="broke")
    assert (ledger.balance("system:float"), ledger.balance(user_account("a"))) == (-5, 5)
