"""The journal's hash chain and the cross-table checks: `check` proves the journal is
the one that was written, not only that it adds up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from coinlab_cli.main import app
from ledger import Ledger, MemoryStore, Posting, TransferRequest, user_account
from ledger.engine import GENESIS, seal
from ledger.sql import SqlStore, make_engine

ALICE, BOB = user_account("alice"), user_account("bob")
runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@contextmanager
def as_owner(url: str, *tables: str) -> Iterator[object]:
    """A connection of the tables' owner with the append-only triggers of ``tables`` off:
    what an attacker holding the owner's credentials could do."""
    engine = make_engine(url)
    with engine.begin() as conn:
        pg = engine.dialect.name == "postgresql"
        saved = []
        for table in tables:
            if pg:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                saved += [(r.name, r.sql) for r in conn.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                    {"t": table})]
        for name, _sql in saved:
            conn.execute(text(f"DROP TRIGGER {name}"))
        yield conn
        for table in tables:
            if pg:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        for _name, sql in saved:
            conn.execute(text(sql))
    engine.dispose()


def _forge_second_mint(conn) -> None:
    """Redirect the second entry (a mint to bob) to mallory, with the balance rows to
    match: the journal still replays and every balance agrees with it."""
    conn.execute(text("UPDATE entries SET to_account = 'user:mallory' WHERE id = 2"))
    conn.execute(text("UPDATE balances SET account = 'user:mallory' WHERE account = 'user:bob'"))


def _rechain(url: str) -> None:
    """Recompute every stored hash and the head, as an owner covering their tracks would."""
    store = SqlStore(url)
    journal = [e for e, _c, _h in store.iter_chain()]
    store.engine.dispose()
    hashes = seal(GENESIS, journal)
    with as_owner(url, "entries") as conn:
        for e, h in zip(journal, hashes, strict=True):
            conn.execute(text("UPDATE entries SET hash = :h WHERE id = :i"), {"h": h, "i": e.id})
        conn.execute(text("UPDATE journal_head SET hash = :h WHERE id = 1"), {"h": hashes[-1]})


def test_every_store_chains_its_journal_from_genesis(ledger):
    ledger.mint(ALICE, 10, key="g1", metadata={"why": "signup", "n": [1, 2.5, None]}, note="été")
    ledger.transfer(ALICE, BOB, 3)
    hold = ledger.lock(ALICE, 2)
    ledger.release(hold.id, BOB, 2)
    chain = list(ledger.store.iter_chain())
    journal = [e for e, _c, _h in chain]
    assert [e.id for e in journal] == list(range(1, len(journal) + 1))
    assert {c for _e, c, _h in chain} == {1}  # one writer: one chain
    assert [h for _e, _c, h in chain] == seal(GENESIS, journal)
    report = ledger.check()
    assert report.ok and report.anchor == f"{journal[-1].id}:{chain[-1][2]}"


def test_an_empty_journal_anchors_at_genesis(ledger):
    assert ledger.check().anchor == f"0:{GENESIS}"


def test_a_forged_entry_whose_balances_add_up_fails_the_chain(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(ALICE, 10)
    ledger.mint(BOB, 5)
    with as_owner(db_url, "entries") as conn:
        _forge_second_mint(conn)
    problems = ledger.check().problems
    assert problems == ("entry 2: its hash does not match its fields and the entry before it "
                        "in chain 1 (the journal was changed after it was written)",)


def test_a_forged_entry_in_memory_fails_the_chain(memory_ledger):
    memory_ledger.mint(ALICE, 10)
    memory_ledger.mint(BOB, 5)
    assert memory_ledger.check().ok  # the memory store seals its journal when it is read
    book = memory_ledger.store.book
    book.journal[1] = book.journal[1]._replace(to_account="user:mallory")
    book.balances[("user:mallory", "COIN")] = book.balances.pop((BOB, "COIN"))
    assert [p.split(":")[0] for p in memory_ledger.check().problems] == ["entry 2"]


def test_a_deleted_entry_breaks_the_chain(memory_ledger):
    for amount in (1, 2, 3):
        memory_ledger.mint(ALICE, amount)
    memory_ledger.check()
    del memory_ledger.store.book.journal[1]
    assert any("hash does not match" in p for p in memory_ledger.check().problems)


def test_an_anchor_catches_a_history_rewritten_with_a_consistent_chain(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(ALICE, 10)
    ledger.mint(BOB, 5)
    anchor = runner.invoke(app, ["check", "--db", db_url, "--anchor"]).output.strip()
    assert anchor == ledger.check().anchor and anchor.startswith("2:")
    ledger.mint(user_account("carol"), 7)  # history after the anchor may grow
    assert runner.invoke(app, ["check", "--db", db_url, "--expect-anchor", anchor]).exit_code == 0
    with as_owner(db_url, "entries") as conn:
        _forge_second_mint(conn)
    _rechain(db_url)
    assert ledger.check().ok  # the chain is consistent again: only the anchor knows better
    result = runner.invoke(app, ["check", "--db", db_url, "--expect-anchor", anchor])
    assert result.exit_code == 1
    assert f"anchor {anchor}: the journal's history up to it has changed" in " ".join(result.output.split())
    assert not ledger.check(expect_anchor=anchor.split(":")[1]).ok  # a bare hash works too


def test_a_truncated_tail_disagrees_with_the_head(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(ALICE, 10)
    ledger.transfer(ALICE, BOB, 4)
    with as_owner(db_url, "entries", "transactions") as conn:
        conn.execute(text("DELETE FROM entries WHERE id = 2"))
        conn.execute(text("UPDATE balances SET balance = 10 WHERE account = 'user:alice'"))
        conn.execute(text("DELETE FROM balances WHERE account = 'user:bob'"))
    problems = ledger.check().problems
    assert any(p.startswith("chain 1 head: stored 2:") for p in problems)


def test_a_deleted_idempotency_key_is_detected(db_url):
    ledger = Ledger(SqlStore(db_url))
    ledger.transfer(ledger_mint(ledger), BOB, 3, key="pay:1")
    with as_owner(db_url, "idempotency_keys") as conn:
        conn.execute(text("DELETE FROM idempotency_keys WHERE key = 'pay:1'"))
    problems = ledger.check().problems
    assert any("its idempotency key 'pay:1' is missing" in p for p in problems)


def ledger_mint(ledger: Ledger) -> str:
    ledger.mint(ALICE, 10)
    return ALICE


def test_a_deleted_idempotency_key_is_detected_in_memory(memory_ledger):
    memory_ledger.transfer(ledger_mint(memory_ledger), BOB, 3, key="pay:1")
    del memory_ledger.store.book.keys["pay:1"]
    assert any("its idempotency key 'pay:1' is missing" in p for p in memory_ledger.check().problems)


def test_entries_without_their_transaction_are_detected(db_url):
    ledger = Ledger(SqlStore(db_url))
    tx = ledger.mint(ALICE, 10)
    with as_owner(db_url, "transactions") as conn:
        conn.execute(text("DELETE FROM transactions WHERE id = :i"), {"i": tx.id})
    problems = ledger.check().problems
    assert f"entries of transaction {tx.id}: no such transaction" in problems


def test_a_key_pointing_at_another_transaction_is_detected(db_url):
    ledger = Ledger(SqlStore(db_url))
    first = ledger.mint(ALICE, 10, key="a")
    second = ledger.mint(ALICE, 10, key="b")
    with as_owner(db_url, "idempotency_keys") as conn:
        conn.execute(text("UPDATE idempotency_keys SET tx_id = :t WHERE key = 'a'"), {"t": second.id})
    problems = ledger.check().problems
    assert f"idempotency key 'a': its transaction {second.id} has key 'b'" in problems
    assert f"transaction {first.id}: its idempotency key 'a' is missing " \
           "(a retry with it would apply the request again)" in problems


@pytest.mark.parametrize("statement", [
    "UPDATE transactions SET entry_type = 'FEE'", "DELETE FROM transactions",
    "UPDATE idempotency_keys SET fingerprint = 'x'", "DELETE FROM idempotency_keys",
    "DELETE FROM journal_head",
])
def test_transactions_keys_and_the_head_are_append_only(db_url, statement):
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(ALICE, 10, key="k")
    with pytest.raises(DBAPIError, match="append-only"), make_engine(db_url).begin() as conn:
        conn.execute(text(statement))
    assert ledger.check().ok


@pytest.mark.parametrize("table", ["entries", "transactions", "idempotency_keys", "journal_head"])
def test_truncate_is_refused_on_postgres(pg_url, table):
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(ALICE, 10, key="k")
    with pytest.raises(DBAPIError, match="append-only"), make_engine(pg_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {table}"))
    assert ledger.check().ok and ledger.balance(ALICE) == 10


def test_the_memory_store_and_sql_chain_the_same_history_alike(db_url, clock):
    """The hash is the engine's, over values both stores give back identically."""
    mem, sql = Ledger(MemoryStore(), clock=clock), Ledger(SqlStore(db_url), clock=clock)
    for ledger in (mem, sql):
        ledger.mint(ALICE, 10, key="k", metadata={"b": 1, "a": [True, None]}, ref_type="t", ref_id="r", note="n")
    (m, _, _), (s, _, _) = next(iter(mem.store.iter_chain())), next(iter(sql.store.iter_chain()))
    assert seal(GENESIS, [m._replace(tx_id=s.tx_id)]) == [h for _e, _c, h in sql.store.iter_chain()]


def test_a_batch_of_several_legs_is_sealed_as_the_engine_seals_it(db_url):
    """PostgreSQL hashes a batch in the database, chained from the head it takes, from
    the ids it draws (`ledger.sql.store._PG_CHAIN`): every stored hash is the engine's,
    over strings that need escaping and text beyond ASCII."""
    ledger = Ledger(SqlStore(db_url))
    carol = user_account("carol")
    ledger.mint(ALICE, 100, key="seed")
    ledger.post_many([
        TransferRequest((Posting(ALICE, BOB, "COIN", 7), Posting(BOB, carol, "COIN", 2, "FEE")), "TRANSFER",
                        'k"\\1', "ref", "é\u00e9\u2603", {"ü": ["\\", '"', 1.5], "a": None}, "note ✓"),
        TransferRequest((Posting(ALICE, carol, "COIN", 3),), "TRANSFER", "k2"),
    ])
    chain = list(ledger.store.iter_chain())
    assert len(chain) == 4 and {c for _e, c, _h in chain} == {1}
    assert [h for _e, _c, h in chain] == seal(GENESIS, [e for e, _c, _h in chain])
    assert ledger.check().ok


def test_a_batch_too_big_to_inline_is_sealed_and_numbered_in_order(db_url):
    """Past `_INLINE_MAX` values a batch's columns travel whole (psycopg's pipeline, not
    `wire`): its entries still get rising ids and the engine's hashes, in journal order."""
    ledger = Ledger(SqlStore(db_url))
    ledger.mint(ALICE, 1000, key="seed")
    txs = ledger.post_many([TransferRequest((Posting(ALICE, user_account(f"u{i}"), "COIN", i + 1),), "TRANSFER",
                                            f"k{i}", note=f"n{i}") for i in range(40)])
    chain = list(ledger.store.iter_chain())
    ids = [e.id for e, _c, _h in chain]
    assert len(chain) == 41 and ids == sorted(ids) and [t.entries[0].id for t in txs] == ids[1:]
    assert [e.amount for e, _c, _h in chain[1:]] == list(range(1, 41))
    assert [h for _e, _c, h in chain] == seal(GENESIS, [e for e, _c, _h in chain])
    assert ledger.check().ok


@contextmanager
def holding_chain(url: str, chain: int) -> Iterator[None]:
    """Another writer's open transaction holding ``chain``'s head."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SELECT 1 FROM journal_head WHERE id = :c FOR UPDATE"), {"c": chain})
        yield
    engine.dispose()


def _chains(url: str) -> dict[int, int]:
    store = SqlStore(url)
    chains = {e.id: c for e, c, _h in store.iter_chain()}
    store.engine.dispose()
    return chains


def test_a_writer_takes_another_chain_while_the_first_is_busy(pg_url):
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(ALICE, 10)
    with holding_chain(pg_url, 1):
        ledger.transfer(ALICE, BOB, 4)  # would wait for the holder on a single chain
    ledger.mint(BOB, 1)
    assert _chains(pg_url) == {1: 1, 2: 2, 3: 1}
    report = ledger.check()
    assert report.ok, report.problems
    assert report.anchor.count(",") == 1 and report.anchor.split(",")[1].startswith("2:2:")
    anchor = runner.invoke(app, ["check", "--db", pg_url, "--anchor"]).output.strip()
    assert anchor == report.anchor
    assert runner.invoke(app, ["check", "--db", pg_url, "--expect-anchor", anchor]).exit_code == 0


def test_a_changed_entry_in_a_second_chain_is_caught_and_the_anchor_names_it(pg_url):
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(ALICE, 10)
    with holding_chain(pg_url, 1):
        ledger.transfer(ALICE, BOB, 4, note="rent")
    anchor = ledger.check().anchor
    with as_owner(pg_url, "entries") as conn:
        conn.execute(text("UPDATE entries SET note = 'gift' WHERE id = 2"))
    assert ledger.check().problems == (
        "entry 2: its hash does not match its fields and the entry before it in chain 2 "
        "(the journal was changed after it was written)",)
    forged = ledger.check(expect_anchor=anchor).problems
    assert any(p.startswith(f"anchor {anchor}: the journal's history up to it has changed in chain 2 ")
               for p in forged)


def test_the_last_entry_of_a_second_chain_deleted_disagrees_with_its_head(pg_url):
    ledger = Ledger(SqlStore(pg_url))
    ledger.mint(ALICE, 10)
    with holding_chain(pg_url, 1):
        ledger.mint(BOB, 4)
    with as_owner(pg_url, "entries", "transactions") as conn:
        conn.execute(text("DELETE FROM transactions WHERE id = (SELECT tx_id FROM entries WHERE id = 2)"))
        conn.execute(text("DELETE FROM entries WHERE id = 2"))
        conn.execute(text("DELETE FROM balances WHERE account = 'user:bob'"))
        conn.execute(text("UPDATE balances SET balance = balance + 4 WHERE account = 'system:mint'"))
    problems = ledger.check().problems
    assert len(problems) == 1 and problems[0].startswith("chain 2 head: stored 2:"), problems


def test_an_anchor_that_is_not_an_anchor_is_refused(ledger):
    with pytest.raises(ValueError, match="an anchor is"):
        ledger.check(expect_anchor="1:2:3:abc")
