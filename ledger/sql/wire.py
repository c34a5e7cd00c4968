"""A round trip of prepared statements on libpq itself, for the SQL store's hot path.

A keyed transfer on PostgreSQL is two round trips (its locks and reads, then its writes
and the COMMIT). Through psycopg's Connection (its pipeline, cursors and results, per
statement) they cost the client ~330 and ~480 us of CPU; sent as below, ~110 and ~200
(measured on this 2-core machine, the rest of the transfer unchanged).

Here the statements go through psycopg's libpq binding (`psycopg.pq`) in one pipeline:
each prepared once per connection, its parameters sent as text and typed by the
statement (every parameter the store sends sits in a CAST or is compared with a
column), its rows loaded by psycopg's own Transformer, its error raised as the psycopg
exception psycopg would raise. The connection stays psycopg's: its transaction state is
libpq's, which psycopg reads, so a rollback or a later statement through psycopg sees
what happened here.
"""

from __future__ import annotations

import itertools
import re
import select
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import abc, pq
from psycopg.adapt import PyFormat, Transformer

__all__ = ["round_trip"]

_TUPLES_OK, _COMMAND_OK = pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK
_FATAL, _SYNC = pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_SYNC
_IDLE = pq.TransactionStatus.IDLE
_TEXT = PyFormat.TEXT

_numbers = itertools.count(1)
_statements: dict[str, tuple[int, bytes]] = {}  # psycopg-style SQL -> (its number, its $n SQL)
_PLACEHOLDER = re.compile(r"%s")


class _Prepared:
    """What one connection has prepared: the names, which carry a generation, so that
    statements prepared again after a loss never meet a leftover of the same name. And
    the connection's Transformer, kept from one round trip to the next: a new one looks
    up its dumpers and loaders again (psycopg's AdaptersMap, in Python, walking the MRO
    of a str enum such as EntryType), which cost a transfer ~20-30 us of client CPU."""

    def __init__(self, pg: psycopg.Connection[Any]) -> None:
        self.generation = 0
        self.names: set[bytes] = set()
        self.tx: abc.Transformer = Transformer(pg)

    def name(self, number: int) -> bytes:
        return b"coinlab_%d_%d" % (self.generation, number)

    def lost(self) -> None:
        self.generation += 1
        self.names = set()


def _statement(sql: str) -> tuple[int, bytes]:
    """A number for ``sql`` (positional ``%s`` parameters) and its text with ``$n``."""
    known = _statements.get(sql)
    if known is None:
        numbers = itertools.count(1)
        text = _PLACEHOLDER.sub(lambda _m: f"${next(numbers)}", sql)
        known = _statements[sql] = (next(_numbers), text.encode())
    return known


def round_trip(pg: psycopg.Connection[Any], statements: Sequence[tuple[str, Sequence[Any]]], *,
               commit: bool = False) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` (SQL with ``%s`` parameters, and their values) on ``pg`` in ONE
    round trip, in a transaction: a BEGIN goes first when none is open (``pg`` must not
    be in autocommit), and with ``commit`` a COMMIT goes last. Returns each statement's
    rows. On an error, raises the first one (a psycopg.Error) once the round trip is
    over; the transaction is then failed, for the caller to roll back.

    Our statements may have been deallocated behind our back (psycopg answers a rollback
    with DEALLOCATE ALL when it has prepared statements of its own; `make_engine` turns
    its preparing off, but a caller's own engine may not): they are then prepared
    again, at once if this round trip began the transaction (so nothing was lost), else
    on the caller's retry (the SQL store retries this error)."""
    # Kept on the connection itself: the Transformer refers to the connection, so a
    # WeakKeyDictionary of them would keep every connection alive.
    prepared: _Prepared | None = getattr(pg, "_coinlab_prepared", None)
    if prepared is None:
        prepared = pg._coinlab_prepared = _Prepared(pg)  # type: ignore[attr-defined]
    begins = pg.pgconn.transaction_status == _IDLE
    try:
        return _send(pg, statements, prepared, begins, commit)
    except psycopg.errors.InvalidSqlStatementName:
        prepared.lost()
        if not begins:
            raise
        pg.rollback()
        return _send(pg, statements, prepared, begins, commit)


def _send(pg: psycopg.Connection[Any], statements: Sequence[tuple[str, Sequence[Any]]], prepared: _Prepared,
          begins: bool, commit: bool) -> list[list[tuple[Any, ...]]]:
    pgconn = pg.pgconn
    tx = prepared.tx
    # Every value is dumped before anything is sent: a value that cannot be fails here,
    # with the connection as it was, not in the middle of a pipeline.
    dumped = [tx.dump_sequence(params, [_TEXT] * len(params)) if params else None for _sql, params in statements]
    sent: list[bytes | None] = []  # per result to come: the name being prepared, or None
    pgconn.enter_pipeline_mode()
    try:
        if begins:
            pgconn.send_query_params(b"BEGIN", None)
            sent.append(None)
        rows_from: list[int] = []  # which results are the statements' own
        preparing: set[bytes] = set()
        for (sql, _params), values in zip(statements, dumped, strict=True):
            number, text = _statement(sql)
            name = prepared.name(number)
            if name not in prepared.names and name not in preparing:
                pgconn.send_prepare(name, text)
                preparing.add(name)
                sent.append(name)
            pgconn.send_query_prepared(name, values)
            rows_from.append(len(sent))
            sent.append(None)
        if commit:
            pgconn.send_query_params(b"COMMIT", None)
            sent.append(None)
        pgconn.pipeline_sync()
        return _collect(pg, tx, sent, rows_from, prepared)
    finally:
        pgconn.exit_pipeline_mode()


def _collect(pg: psycopg.Connection[Any], tx: abc.Transformer, sent: list[bytes | None], rows_from: list[int],
             prepared: _Prepared) -> list[list[tuple[Any, ...]]]:
    """Read the pipeline's results up to its sync: a result (then None) per command sent."""
    pgconn = pg.pgconn
    fd = pgconn.socket
    # A non-blocking connection may not have sent everything yet: wait until it can send
    # more, reading what the server sends meanwhile (libpq's recipe; else both could wait).
    while pgconn.flush():
        if _wait(fd, select.POLLIN | select.POLLOUT) & select.POLLIN:
            pgconn.consume_input()
    results: list[list[tuple[Any, ...]]] = []
    error: psycopg.Error | None = None
    i = 0
    while True:
        while pgconn.is_busy():
            _wait(fd, select.POLLIN)
            pgconn.consume_input()
        res = pgconn.get_result()
        if res is None:  # the end of one command's results
            i += 1
            continue
        status = res.status
        if status == _SYNC:
            break
        if status == _FATAL and error is None:
            error = psycopg.errors.error_from_result(res, encoding=pg.info.encoding)
        elif status == _COMMAND_OK and sent[i] is not None:
            prepared.names.add(sent[i])  # type: ignore[arg-type]
        if i in rows_from:
            if status == _TUPLES_OK:
                tx.set_pgresult(res)
                results.append(tx.load_rows(0, res.ntuples, tuple))
            else:
                results.append([])
    if error is not None:
        raise error
    return results


def _wait(fd: int, events: int) -> int:
    """Block (the GIL released) until ``fd`` is ready for some of ``events``; returns
    those it is ready for. poll, not select: a busy service can hold descriptors past
    select's limit of 1024."""
    poller = select.poll()
    poller.register(fd, events)
    return next((ready for _fd, ready in poller.poll()), 0)
