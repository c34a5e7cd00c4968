"""The SQL store's statements on libpq itself (ledger.sql.wire): several in one round
trip, each prepared once per connection and again when someone deallocated it, values
and errors as psycopg gives them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import psycopg
import pytest

from ledger import Ledger, user_account
from ledger.limits import AMOUNT_MAX
from ledger.sql import SqlStore, wire

A, B = user_account("a"), user_account("b")


@pytest.fixture
def pg(pg_url):
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        yield conn


def test_statements_run_in_order_in_one_transaction_and_commit(pg):
    pg.execute("CREATE TABLE t (v integer)")
    pg.commit()
    insert, count = "INSERT INTO t VALUES (CAST(%s AS integer))", "SELECT count(*) FROM t"
    assert wire.round_trip(pg, [(insert, [1]), (insert, [2]), (count, [])], commit=True) == [[], [], [(2,)]]
    assert pg.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    wire.round_trip(pg, [(insert, [3])])  # no commit: left open, rolled back
    pg.rollback()
    assert wire.round_trip(pg, [(count, [])], commit=True) == [[(2,)]]


def test_values_of_every_kind_the_store_sends_come_back_as_sent(pg):
    at = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)
    sql = ("SELECT CAST(%s AS text), CAST(%s AS bigint), CAST(%s AS boolean), CAST(%s AS timestamptz), "
           "CAST(ARRAY[%s, %s] AS text[]), CAST(%s AS json)")
    values = ['q"u\\o,te {é ☃}', AMOUNT_MAX, True, at, None, "", '{"ü": [1, null]}']
    ((row,),) = wire.round_trip(pg, [(sql, values)], commit=True)
    assert row[:3] == tuple(values[:3]) and row[3] == at and row[4] == [None, ""] and row[5] == {"ü": [1, None]}


def test_a_round_trip_larger_than_the_sockets_buffers_is_sent_whole(pg):
    """The connection is non-blocking: libpq sends what the socket takes and the rest
    once it can, while the server's answers are read meanwhile."""
    big = "x" * 8_000_000
    sql = "SELECT length(CAST(%s AS text)), md5(CAST(%s AS text))"
    assert wire.round_trip(pg, [(sql, [big, big]), (sql, ["é", "é"])], commit=True) == [
        [(8_000_000, hashlib.md5(big.encode()).hexdigest())], [(1, hashlib.md5("é".encode()).hexdigest())]]


def test_an_error_is_psycopgs_and_what_was_prepared_before_it_stays(pg):
    double, bad = "SELECT CAST(%s AS integer) * 2", "SELECT CAST(%s AS integer) * 3"
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as err:
        wire.round_trip(pg, [(double, [1]), (bad, ["x"])])
    assert err.value.sqlstate == "22P02"
    pg.rollback()
    assert wire.round_trip(pg, [(double, [4]), (bad, [1])], commit=True) == [[(8,)], [(3,)]]


def test_a_value_that_cannot_be_sent_fails_before_anything_is_sent(pg):
    with pytest.raises(psycopg.ProgrammingError, match="cannot adapt"):
        wire.round_trip(pg, [("SELECT CAST(%s AS integer)", [1]), ("SELECT CAST(%s AS text)", [object()])])
    assert pg.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE  # nothing began
    assert wire.round_trip(pg, [("SELECT CAST(%s AS integer)", [5])], commit=True) == [[(5,)]]


def test_statements_deallocated_behind_the_stores_back_are_prepared_again(pg_url):
    store = SqlStore(pg_url, pool_size=1, max_overflow=0)  # one connection: the one deallocated
    ledger = Ledger(store)
    ledger.mint(A, 100, key="m")

    def prepared_on_the_connection(deallocate: bool = False) -> int:
        raw = store.engine.raw_connection()
        try:
            conn = raw.driver_connection
            if deallocate:
                conn.execute("DEALLOCATE ALL")
            (n,) = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
            conn.commit()
            return n
        finally:
            raw.close()

    assert prepared_on_the_connection() > 0
    assert prepared_on_the_connection(deallocate=True) == 0
    ledger.transfer(A, B, 1, key="single")  # its round trip begins the transaction: prepared again at once
    assert prepared_on_the_connection() > 0
    prepared_on_the_connection(deallocate=True)
    with store.session():
        ledger.transfer(A, B, 2, key="in a session")
    assert ledger.balance(B) == 3 and ledger.check().ok
    store.engine.dispose()
