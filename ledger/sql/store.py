"""The SQL store: SQLite by default, PostgreSQL in production, one code path.

A batch of requests is one database transaction:
  1. serialize requests that share an idempotency key (advisory locks on PostgreSQL;
     SQLite has one writer at a time anyway) and load the keys already used;
  2. lock the holds the batch settles, then every (account, asset) balance row it
     touches, always in sorted order so concurrent batches cannot deadlock;
  3. run the shared engine (`engine.post`) on a Book holding just those rows;
  4. write the new journal entries, transactions, keys, holds and balances; commit.
Nothing is acknowledged before the commit returns. Deadlocks and serialization
failures (rare with ordered locking) are retried from step 1.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.types.array import ListBinaryDumper
from sqlalchemy import (
    Connection,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolResetState

from ..engine import Book, check_address, check_asset, check_request, hash_tail, post, seal
from ..errors import LedgerError
from ..model import Asset, Entry, Hold, Transaction, TransferRequest
from ..store import TxRow
from . import schema as s
from . import wire

__all__ = ["SqlStore", "make_engine", "send_lists_in_binary"]

_new = tuple.__new__  # a NamedTuple from a tuple, without its generated __new__
_ENTRIES = Transaction._fields.index("entries")

# serialization failure, deadlock detected, a balance row created by a concurrent batch,
# a prepared statement of `wire` deallocated by someone else (it prepares it again)
_RETRYABLE_SQLSTATES = {"40001", "40P01", "23505", "26000"}
_MAX_ATTEMPTS = 20


# PostgreSQL bulk statements: whole columns travel as arrays through unnest(), so each
# statement has a fixed text psycopg parses once, whatever the batch size.
_ENTRY_COLUMNS = [c.name for c in s.entries.columns]
# The columns a batch sends for its entries: all but the id, the hash and the chain, which
# the database fills in (`_PG_CHAIN`); the Entry fields after the id, in order.
_SENT_COLUMNS = _ENTRY_COLUMNS[1:17]
_SENT_TYPES = ["text", "timestamptz", "text", "text", "bigint", "text", "text", "bigint",
               "bigint", "bigint", "bigint", "text", "text", "text", "json", "text"]
_HOLD_COLUMNS = [c.name for c in s.holds.columns]
_HOLD_TYPES = ["text", "text", "text", "bigint", "text", "timestamptz", "timestamptz", "timestamptz", "text", "text"]


def _unnest(columns: Sequence[str], types: Sequence[str], prefix: str) -> str:
    return "unnest(" + ", ".join(f"CAST(:{prefix}{c} AS {t}[])" for c, t in zip(columns, types, strict=True)) + ")"


# The PostgreSQL statements run on the driver's connection, not through SQLAlchemy: a
# keyed transfer is two round trips (`SqlStore._pg_load`, `SqlStore._write_pg`), each
# of one or more statements, prepared on the server once per connection and sent in one
# pipeline on libpq itself (`_round_trip`, `wire`). They are written with named
# parameters, ``CAST(:name AS type[])`` for a column of values; `_bind` turns them into
# what the driver runs.

# One statement for a session's idempotency-key locks, taken in ascending order. Kept
# apart from the key lookup (`_PG_LOAD`): a statement reads the rows committed when it
# started, so a lookup in the same statement as the lock would miss the key of a batch
# that held the lock and committed meanwhile. As the next statement (after the lock is
# granted), it sees that key, even in the same pipeline.
_PG_KEY_LOCKS = ("SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest(CAST(:ids AS bigint[])) AS k "
                 "ORDER BY k) AS ordered")
_PG_HOLDS = (f"SELECT {', '.join(_HOLD_COLUMNS)} FROM holds WHERE id = ANY(CAST(:ids AS text[])) "
             "ORDER BY id FOR UPDATE")
_PG_ASSETS = "SELECT code, scale, name FROM assets"
_PG_TRANSACTION = "SELECT id, time, entry_type, idempotency_key, hold_id FROM transactions WHERE id = :id"
_PG_TX_ENTRIES = f"SELECT {', '.join(_ENTRY_COLUMNS[:17])} FROM entries WHERE tx_id = :id ORDER BY id"


# A batch's idempotency keys (with their fingerprint and transaction id), its balance
# rows, locked (with their balance), and the flags (allow_negative, frozen) of their
# accounts (neither), in one statement.
_PG_LOAD = (
    "SELECT key, fingerprint, tx_id, CAST(NULL AS bigint) AS balance, false AS allow_negative, false AS frozen "
    "FROM idempotency_keys WHERE key = ANY(CAST(:keys AS text[])) "
    "UNION ALL SELECT account, asset, NULL, balance, false, false FROM ("
    "SELECT b.account, b.asset, b.balance FROM balances b "
    "JOIN unnest(CAST(:acc AS text[]), CAST(:ast AS text[])) AS k(account, asset) "
    "ON b.account = k.account AND b.asset = k.asset "
    "ORDER BY b.account, b.asset FOR UPDATE OF b) AS locked "  # rows are locked in this order: no deadlocks
    "UNION ALL SELECT address, NULL, NULL, NULL, allow_negative, frozen FROM accounts "
    "WHERE address = ANY(CAST(:addr AS text[])) AND (allow_negative OR frozen)"
)
# What a batch writes, each part one bulk statement; `_pg_writes` joins the parts a batch
# needs into ONE statement (data-modifying WITH queries), so the whole write is a single
# round trip. No two parts touch the same row, and no foreign keys order them.
_PG_WRITES = {
    "entries": f"INSERT INTO entries ({', '.join(_ENTRY_COLUMNS)}) "
               f"SELECT c.id, {', '.join('e.' + c for c in _SENT_COLUMNS)}, c.hash, head.id FROM "
               + _unnest(_SENT_COLUMNS, _SENT_TYPES, "")
               + f" WITH ORDINALITY AS e({', '.join(_SENT_COLUMNS)}, ord) "
               "JOIN chained AS c ON c.ord = e.ord CROSS JOIN head",
    "transactions": "INSERT INTO transactions (id, time, entry_type, idempotency_key, hold_id) SELECT * FROM "
                    + _unnest(["id", "time", "entry_type", "idempotency_key", "hold_id"],
                              ["text", "timestamptz", "text", "text", "text"], "t_"),
    "keys": "INSERT INTO idempotency_keys (key, fingerprint, tx_id) SELECT * FROM "
            + _unnest(["key", "fingerprint", "tx_id"], ["text", "text", "text"], "k_"),
    "accounts": "INSERT INTO accounts (address, allow_negative, frozen, created_at) "
                "SELECT address, false, false, CAST(:a_at AS timestamptz) FROM "
                "unnest(CAST(:a_address AS text[])) AS address ON CONFLICT DO NOTHING",
    "new_balances": "INSERT INTO balances (account, asset, balance) SELECT * FROM "
                    + _unnest(["acc", "ast", "bal"], ["text", "text", "bigint"], "nb_"),
    "balances": "UPDATE balances AS b SET balance = v.balance FROM "
                + _unnest(["acc", "ast", "bal"], ["text", "text", "bigint"], "b_")
                + " AS v(account, asset, balance) WHERE b.account = v.account AND b.asset = v.asset",
    "new_holds": f"INSERT INTO holds ({', '.join(_HOLD_COLUMNS)}) SELECT * FROM "
                 + _unnest(_HOLD_COLUMNS, _HOLD_TYPES, "nh_"),
    "holds": "UPDATE holds AS h SET amount = v.amount, status = v.status, settled_at = v.settled_at FROM "
             + _unnest(["id", "amount", "status", "settled_at"], ["text", "bigint", "text", "timestamptz"], "h_")
             + " AS v(id, amount, status, settled_at) WHERE h.id = v.id",
    "head_moved": "UPDATE journal_head AS j SET last_id = last.id, hash = last.hash "
                  "FROM (SELECT id, hash FROM chained ORDER BY ord DESC LIMIT 1) AS last, head WHERE j.id = head.id",
}
# Every write also takes a chain and numbers and seals its entries, in the same statement
# (see schema.journal_head): a free chain's head if there is one (SKIP LOCKED), so
# concurrent batches commit side by side, else it waits for chain :chain. Its ids (one per
# :tail, not generate_series(1, :n), whose row count a generic plan cannot know) are
# drawn once the head is held (they come out of the join with it), so they rise along
# each chain and, the balance rows being held too, per account; a refused request draws
# none. Each entry's hash is `engine.entry_hash` computed here, from the previous hash,
# the drawn id and the entry's `engine.hash_tail` (:tail): the hashes need the ids, and
# drawing them in a round trip of their own cost every write one more. The chain steps
# through arrays (one row a step): a join per step made a batch's sealing quadratic.
_PG_CHAIN = (
    "free AS MATERIALIZED (SELECT id, hash FROM journal_head ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED), "
    "waited AS MATERIALIZED (SELECT id, hash FROM journal_head WHERE id = CAST(:chain AS smallint) "
    "AND NOT EXISTS (SELECT FROM free) FOR UPDATE), "
    "head AS (SELECT id, hash FROM free UNION ALL SELECT id, hash FROM waited), "
    "ids AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('entries', 'id')) AS id "
    "FROM head, unnest(CAST(:tail AS text[]))), "
    "drawn AS MATERIALIZED (SELECT array_agg(id ORDER BY id) AS ids, CAST(:tail AS text[]) AS tails FROM ids), "
    "chained(ord, id, hash) AS (SELECT 0, CAST(0 AS bigint), CAST(hash AS text) FROM head UNION ALL "
    "SELECT c.ord + 1, d.ids[c.ord + 1], "
    "encode(sha256(convert_to(c.hash || ',' || d.ids[c.ord + 1] || d.tails[c.ord + 1], 'UTF8')), 'hex') "
    "FROM chained AS c, drawn AS d WHERE c.ord < cardinality(d.ids))"
)


@functools.cache
def _pg_writes(parts: tuple[str, ...]) -> str:
    """One statement for a batch's writes (the `_PG_WRITES` parts it needs); returns the
    entries' ids in journal order. (A part's name is not its table's: under RECURSIVE,
    ``entries AS (INSERT INTO entries ...)`` would name itself.)"""
    return ("WITH RECURSIVE " + _PG_CHAIN + ", " + ", ".join(f"w_{p} AS ({_PG_WRITES[p]})" for p in parts)
            + " SELECT id FROM chained WHERE ord > 0 ORDER BY ord")


# A small batch's columns go as ARRAY[$1, $2, ...] of plain parameters instead of one
# array parameter each: psycopg dumps a list in Python (~8 us for a one-element list,
# ~30 of them in a transfer's write), a plain value in C. The statement's text then
# depends on the lengths, so above this many values the arrays go whole.
_INLINE_MAX = 96
_PARAM = re.compile(r"CAST\(:(\w+) AS (\w+)\[\]\)|(?<![:\w]):(\w+)")


@functools.cache
def _names(sql: str) -> tuple[tuple[str, bool], ...]:
    """The parameters of ``sql`` in order of appearance, each with whether it is a column."""
    return tuple((m[1], True) if m[1] else (m[3], False) for m in _PARAM.finditer(sql))


@functools.cache
def _whole(sql: str) -> str:
    return _PARAM.sub(lambda m: f"CAST(%({m[1]})s AS {m[2]}[])" if m[1] else f"%({m[3]})s", sql)


@functools.cache
def _inlined(sql: str, lengths: tuple[int, ...]) -> str:
    sizes = iter(lengths)

    def one(m: re.Match[str]) -> str:
        if m[1]:
            return f"CAST(ARRAY[{', '.join(['%s'] * next(sizes))}] AS {m[2]}[])"
        return "%s"

    return _PARAM.sub(one, sql)


def _bind(sql: str, params: dict[str, Any]) -> tuple[str, Any]:
    """``sql`` (named parameters, columns as ``CAST(:name AS type[])``) and ``params`` as
    the driver runs them: small columns inlined as ARRAY[...] of plain values, larger ones
    as one array parameter each."""
    names = _names(sql)
    lengths = tuple([len(params[n]) for n, column in names if column])
    if sum(lengths) > _INLINE_MAX:
        return _whole(sql), params
    flat: list[Any] = []
    for n, column in names:
        if column:
            flat.extend(params[n])
        else:
            flat.append(params[n])
    return _inlined(sql, lengths), flat


def make_engine(url: str, **kw: Any) -> Engine:
    """An engine for a ledger URL: `sqlite:///path` or `postgresql://...` (psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Take the write lock up front: a deferred transaction that later upgrades
            # to a writer can fail with SQLITE_BUSY instead of waiting.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # As many as the service's request thread pool has threads (anyio's 40): with fewer,
    # busy threads kept opening and closing overflow connections (a backend each time).
    kw.setdefault("pool_size", 40)
    kw.setdefault("max_overflow", 10)
    kw.setdefault("pool_recycle", 3600)
    # A connection going back to the pool is rolled back by `_reset_pg` instead (see there).
    reset_here = "pool_reset_on_return" not in kw
    if reset_here:
        kw["pool_reset_on_return"] = None
    engine = create_engine(url, **kw)
    event.listen(engine, "connect", lambda dbapi_conn, _record: _set_up_pg(dbapi_conn))
    if reset_here:
        event.listen(engine.pool, "reset", _reset_pg)
    return engine


def _reset_pg(dbapi_conn: Any, _record: Any, state: PoolResetState) -> None:
    """What the pool's default reset does (roll back what a connection going back to the
    pool left open), only when something is open. psycopg's rollback of an idle
    connection costs ~5 us anyway (its lock and generator), ~30 us of a single
    transfer's client CPU once the process has slept on its round trips; the store
    ends its own transactions."""
    if (state.asyncio_safe and not state.transaction_was_reset
            and dbapi_conn.pgconn.transaction_status != _IDLE):
        dbapi_conn.rollback()


def _set_up_pg(conn: Any) -> None:
    """A new PostgreSQL connection of the store's engine: lists sent in binary, and no
    statements prepared by psycopg. The store prepares its own (`wire`), and psycopg,
    when it has prepared any, answers every rollback with DEALLOCATE ALL, which would
    drop the store's too. (Reads through SQLAlchemy are then planned at each run.)"""
    send_lists_in_binary(conn)
    conn.prepare_threshold = None


def send_lists_in_binary(conn: Any) -> None:
    """Make a psycopg connection send list parameters in binary. Whole columns travel as
    lists (see _unnest); psycopg sends them in text format unless told otherwise: ~1.3 us
    per string, 4 per timestamp, 6 per bytes (each element quoted through a regex),
    against ~0.26 in binary."""
    conn.adapters.register_dumper(list, ListBinaryDumper)


@functools.cache
def _entries_query(by_account: bool, by_type: bool, by_asset: bool, limited: bool, newest_first: bool) -> Any:
    """The journal query `SqlStore.entries` runs, built once per shape of filter (with
    bound parameters): the history of one account is a hot read, and building and
    hashing a new statement each time cost more than running it."""
    e = s.entries.c
    q = select(s.entries).order_by(e.id.desc() if newest_first else e.id)
    if by_account:
        q = q.where(or_(e.from_account == bindparam("account"), e.to_account == bindparam("account")))
    if by_type:
        q = q.where(e.entry_type == bindparam("entry_type"))
    if by_asset:
        q = q.where(e.asset == bindparam("asset"))
    q = q.offset(bindparam("offset"))
    return q.limit(bindparam("limit")) if limited else q


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes, PostgreSQL the session's zone; the ledger speaks UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_IDLE = psycopg.pq.TransactionStatus.IDLE


class _DriverErrors:
    """psycopg's errors as SQLAlchemy's (DBAPIError, the original as ``.orig``), as its
    own statements raise them: the retry and the writer's batch handling see one kind.
    (A class, not @contextmanager: that builds a generator and a wrapper at every use,
    twice a transfer.)"""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: Any) -> None:
        if isinstance(err, psycopg.Error):
            raise DBAPIError.instance(None, None, err, psycopg.Error) from err


_driver_errors = _DriverErrors()


def _round_trip(pg: psycopg.Connection[Any], statements: Sequence[tuple[str, dict[str, Any]]], *,
                commit: bool = False) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` (SQL and its parameters, see `_bind`) on ``pg`` in one round trip, in a
    transaction (begun if none is open; committed last with ``commit``); returns each
    one's rows. On libpq itself (`wire`) when every statement's columns are inlined (a
    small batch: any single call), else through psycopg's pipeline, unprepared: whole
    columns go in binary, which needs the types psycopg picks per call, so a prepared
    statement per type combination (the server plans such a batch's statements each
    time, ~1 ms, shared by its transfers)."""
    bound = [_bind(sql, params) for sql, params in statements]
    if all(type(values) is list for _sql, values in bound):
        return wire.round_trip(pg, bound, commit=commit)
    with pg.pipeline():
        cursors = [pg.execute(sql, values, prepare=False) for sql, values in bound]
        if commit:
            pg.execute("COMMIT", prepare=False)
    return [c.fetchall() if c.description is not None else [] for c in cursors]


def _flag(book: Book, flags: Iterable[tuple[str, bool, bool]]) -> None:
    """Record accounts' flags (address, allow_negative, frozen) in ``book``."""
    for address, allow_negative, frozen in flags:
        if allow_negative:
            book.negative_ok.add(address)
        if frozen:
            book.frozen.add(address)


def _key_lock_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _chain(journal: list[Entry], new_ids: list[int], head: str) -> list[str]:
    """The hashes of a batch's entries, numbered ``new_ids``, sealed after its chain's head."""
    return seal(head, [e._replace(id=i) for e, i in zip(journal, new_ids, strict=True)])


def _numbered(tx: Transaction, ids: dict[int, int]) -> Transaction:
    """``tx`` with its entries' provisional ids replaced by those the database gave them
    (``ids``). Built directly: NamedTuple._replace costs several times more."""
    entries = tuple(_new(Entry, (ids[e.id], *e[1:])) for e in tx.entries)  # id is an Entry's first field
    return _new(Transaction, (*tx[:_ENTRIES], entries, *tx[_ENTRIES + 1:]))


def _entry(row: Any) -> Entry:
    return Entry(
        row.id, row.tx_id, _utc(row.time), row.entry_type, row.asset, row.amount,  # type: ignore[arg-type]
        row.from_account, row.to_account, row.from_before, row.from_after, row.to_before,
        row.to_after, row.ref_type, row.ref_id, row.idempotency_key, row.metadata, row.note,
    )


def _hold(row: Any) -> Hold:
    return Hold(
        row.id, row.account, row.asset, row.amount, row.status, _utc(row.created_at),  # type: ignore[arg-type]
        _utc(row.expires_at), _utc(row.settled_at), row.ref_type, row.ref_id,
    )


class _Session:
    """What a `SqlStore.session` has loaded (and locked) and applied so far. ``conn`` is
    None in a PostgreSQL batch of one call, which runs on the driver's connection
    ``pg`` alone; ``pg`` is None on SQLite."""

    def __init__(self, conn: Connection | None, pg: psycopg.Connection[Any] | None = None) -> None:
        self.conn = conn
        self.pg = pg
        self.book = Book()
        self.seen: set[tuple[str, str]] = set()  # balance rows looked up (and locked if they exist)
        self.wanted: set[tuple[str, str]] = set()  # rows to lock with the next ones (`SqlStore.prelock`)
        self.before: dict[tuple[str, str], int] = {}  # those that existed, with their balance then
        self.loaded_holds: set[str] = set()
        self.keys_seen: set[str] = set()
        self.probes: set[str] = set()  # keys to look up with the next key load (`SqlStore.probe_keys`)
        self.probed: set[str] = set()  # those looked up: ...
        self.present: set[str] = set()  # ... and of those, the ones that exist
        self.applied: list[Transaction] = []
        self.created: set[str] = set()  # accounts the session created


class _Rows(NamedTuple):
    """What one batch writes: new journal entries and transactions, idempotency keys
    (key, fingerprint, tx id), new accounts, new and changed balance rows (account,
    asset, balance), new and settled holds."""

    journal: list[Entry]
    applied: list[Transaction]
    keyed: list[tuple[str, str, str]]
    new_accounts: list[str]
    new_balances: list[tuple[str, str, int]]
    changed: list[tuple[str, str, int]]
    new_holds: list[Hold]
    settled: list[Hold]


class SqlStore:
    def __init__(self, url: str | Engine, **engine_kw: Any) -> None:
        self.engine = url if isinstance(url, Engine) else make_engine(url, **engine_kw)
        self.dialect = self.engine.dialect.name
        self._pg = self.dialect == "postgresql"
        self._insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        # One-statement reads on PostgreSQL run outside a transaction: a read in the
        # default mode paid for BEGIN and the ROLLBACK when its connection went back to
        # the pool (3 round trips; ~150 us of the server's CPU against ~30 us). Reads that
        # must agree with each other use `snapshot`.
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self._pg else self.engine
        # Accounts are never deleted, so remembering them saves an upsert per batch.
        self._known_accounts: set[str] = set()
        self._assets: dict[str, Asset] = {}
        self._load_assets()
        self._session = threading.local()  # see `session`

    # -- setup ---------------------------------------------------------------
    def _load_assets(self, conn: Connection | None = None) -> None:
        if conn is None:
            with self._reader.connect() as own:
                self._load_assets(own)
            return
        self._assets = {r.code: Asset(r.code, r.scale, r.name) for r in conn.execute(select(s.assets))}

    def create_asset(self, asset: Asset) -> None:
        check_asset(asset)
        if asset.code in self._assets:
            return
        with self.engine.begin() as conn:
            conn.execute(self._insert(s.assets).values(asset._asdict()).on_conflict_do_nothing())
        self._load_assets()

    def assets(self) -> dict[str, Asset]:
        if not self._assets:
            self._load_assets()
        return dict(self._assets)

    def open_account(self, address: str, *, allow_negative: bool = False) -> None:
        check_address(address)
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(s.accounts)
                .values(address=address, allow_negative=allow_negative, frozen=False, created_at=datetime.now(UTC))
                .on_conflict_do_nothing()
            )
            if allow_negative:
                conn.execute(update(s.accounts).where(s.accounts.c.address == address).values(allow_negative=True))
        self._known_accounts.add(address)

    def set_frozen(self, address: str, frozen: bool) -> None:
        check_address(address)
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(s.accounts)
                .values(address=address, allow_negative=False, frozen=frozen, created_at=datetime.now(UTC))
                .on_conflict_do_update(index_elements=["address"], set_={"frozen": frozen})
            )

    def is_frozen(self, address: str) -> bool:
        with self._reader.connect() as conn:
            return bool(conn.scalar(select(s.accounts.c.frozen).where(s.accounts.c.address == address)))

    def probe_keys(self, keys: Iterable[str]) -> None:
        """In a session: look ``keys`` up with the next idempotency keys the session loads
        (in the same query), so that `existing_keys` of them afterwards costs no round
        trip. Outside a session it does nothing."""
        sess = self._session_state()
        if sess is not None:
            sess.probes.update(keys)

    def existing_keys(self, keys: Collection[str]) -> set[str]:
        """Which of ``keys`` are idempotency keys of committed transactions (one query;
        inside a session, on its connection, without the session's own writes, or no
        query if `probe_keys` had them looked up already)."""
        if not keys:
            return set()
        sess = self._session_state()
        if sess is not None and sess.probed.issuperset(keys):
            return sess.present & set(keys)
        with self._reading() as conn:
            return set(conn.scalars(select(s.idempotency_keys.c.key).where(self._in(s.idempotency_keys.c.key, keys))))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex}"

    # -- one transaction for many calls ----------------------------------------
    @contextmanager
    def session(self) -> Iterator[Connection]:
        """Run this thread's store calls in one database transaction, committed when the
        block ends (rolled back if it raises); yields its connection, so the caller's own
        statements can join it. Other threads are not affected.

        For a caller that makes many dependent writes in sequence (the market's sequencer)
        and would otherwise pay a COMMIT, and its fsync, and ten-odd statements for each:
        inside a session, `apply`/`apply_many` lock the rows a request touches the first
        time it is touched (balances, holds, idempotency keys, as outside) and apply the
        request to a working book in memory; the journal, balances and holds are written
        in bulk when the block ends. Every request is still validated and applied on its
        own, atomically, with the same rules. The reads `balance`, `balances`, `get_hold`
        and `holds` see the session's writes; `entries` does not, and the entry ids of a
        transaction returned inside a session are provisional (the database numbers the
        journal when it is written). A database error (e.g. a deadlock) aborts the whole
        block; nothing is retried here."""
        if getattr(self._session, "state", None) is not None:
            raise RuntimeError("a store session is already open on this thread")
        try:
            with self.engine.begin() as conn:
                pg = conn.connection.driver_connection if self._pg else None
                state = self._session.state = _Session(conn, pg)
                yield conn
                if state.applied:  # on PostgreSQL the COMMIT goes with the writes (SQLAlchemy's is then a no-op)
                    self._write(state, state.created, commit=True)
        finally:
            self._session.state = None
        self._known_accounts |= state.created  # only once committed

    def _apply_deferred(self, sess: _Session, requests: Sequence[TransferRequest],
                        now: datetime) -> list[Transaction | LedgerError]:
        book = sess.book
        results: list[Transaction | LedgerError | None] = [None] * len(requests)
        live: list[int] = []
        for i, req in enumerate(requests):
            try:  # what cannot reach the database is refused before it is queried
                check_request(req)
                for p in req.postings:
                    check_address(p.from_account)
                    check_address(p.to_account)
                live.append(i)
            except LedgerError as err:
                results[i] = err
        # What these requests need that the session has not loaded (and locked) yet, in
        # one statement each. Idempotency keys first (requests sharing one wait for each
        # other there), then holds and balance rows, each locked in sorted order.
        if any(p.asset not in self._assets for i in live for p in requests[i].postings):
            self._reload_assets(sess)  # another process may have created it (a brand-coin launch)
        book.assets = set(self._assets)
        keys = {k for i in live if (k := requests[i].idempotency_key) is not None} - sess.keys_seen
        holds = {h.hold_id for i in live if (h := requests[i].hold) is not None and h.kind != "lock"} - book.holds.keys()
        pairs = {(a, p.asset) for i in live for p in requests[i].postings
                 for a in (p.from_account, p.to_account) if p.asset in book.assets}
        if sess.pg is not None:
            self._pg_load(sess, keys, holds, pairs)
        else:
            self._load_keys(sess, keys)
            self._load_holds(sess.conn, book, holds)
            self._lock_unseen(sess, pairs)
        sess.keys_seen |= keys
        sess.loaded_holds |= holds
        for i in live:
            try:
                tx = post(book, requests[i], now, uuid.uuid4().hex)
            except LedgerError as err:
                results[i] = err
                continue
            if not tx.replayed:
                sess.applied.append(tx)
            results[i] = tx
        return results  # type: ignore[return-value]

    def _session_state(self) -> _Session | None:
        return getattr(self._session, "state", None)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        sess = self._session_state()
        if sess is not None:
            assert sess.conn is not None  # a session always has one
            yield sess.conn
            return
        with self._reader.connect() as own:
            yield own

    # -- writing -------------------------------------------------------------
    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        result = self.apply_many([request], now)[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    def apply_many(
        self, requests: Sequence[TransferRequest], now: datetime
    ) -> list[Transaction | LedgerError]:
        sess = self._session_state()
        if sess is not None:
            return self._apply_deferred(sess, requests, now)
        for attempt in range(_MAX_ATTEMPTS):
            try:
                created: set[str] = set()
                if self._pg:
                    results = self._apply_pg(requests, now, created)
                else:
                    with self.engine.begin() as conn:
                        results = self._apply_in(_Session(conn), requests, now, created)
                self._known_accounts |= created  # only once committed
                return results
            except DBAPIError as err:
                if attempt + 1 < _MAX_ATTEMPTS and self._retryable(err):
                    time.sleep(min(0.001 * 2**attempt, 0.2))
                    continue
                raise
        raise AssertionError("unreachable")

    def _retryable(self, err: DBAPIError) -> bool:
        # SQLite's "database is locked" comes only after busy_timeout has already waited:
        # retrying would just wait again.
        return getattr(err.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES

    def _apply_pg(self, requests: Sequence[TransferRequest], now: datetime,
                  created: set[str]) -> list[Transaction | LedgerError]:
        """`_apply_in` on a pooled connection's driver (psycopg) connection, with no
        SQLAlchemy Connection around it: two round trips for a batch that writes (its
        locks and reads, then its writes with its chain, ids and hashes, and the
        COMMIT), each one pipeline (`_round_trip`)."""
        raw = self.engine.raw_connection()
        pg: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        try:
            results = self._apply_in(_Session(None, pg), requests, now, created)
            if pg.pgconn.transaction_status != _IDLE:
                pg.rollback()  # nothing to write: release the locks
            return results
        except BaseException:
            try:
                pg.rollback()
            except psycopg.Error:
                raw.invalidate()  # a broken connection: the pool opens a new one
            raise
        finally:
            raw.close()

    def _apply_in(self, sess: _Session, requests: Sequence[TransferRequest], now: datetime,
                  created: set[str]) -> list[Transaction | LedgerError]:
        """One batch in its own transaction: a session of one call, written (and on
        PostgreSQL committed) at once, with the journal ids the database gave it."""
        results = self._apply_deferred(sess, requests, now)
        if not sess.applied:
            return results
        id_map = self._write(sess, created, commit=True)
        new = {t.id for t in sess.applied}
        return [_numbered(r, id_map) if isinstance(r, Transaction) and r.id in new else r for r in results]

    def _load_keys(self, sess: _Session, keys: set[str]) -> None:
        """Load ``keys`` (SQLite; PostgreSQL: `_pg_load`), in the same query as the keys
        `probe_keys` asked for."""
        if not keys:
            return
        conn, probes = sess.conn, sess.probes - sess.probed
        assert conn is not None
        rows = conn.execute(select(s.idempotency_keys).where(self._in(s.idempotency_keys.c.key, keys | probes))).all()
        for row in rows:
            if row.key in probes:
                sess.present.add(row.key)
            if row.key in keys:
                sess.book.keys[row.key] = (row.fingerprint, self._transaction(conn, row.tx_id))
        sess.probed |= probes

    def _transaction(self, conn: Connection, tx_id: str) -> Transaction:
        tx = conn.execute(select(s.transactions).where(s.transactions.c.id == tx_id)).one()
        entries = tuple(_entry(r) for r in conn.execute(
            select(s.entries).where(s.entries.c.tx_id == tx_id).order_by(s.entries.c.id)))
        return Transaction(tx.id, _utc(tx.time), tx.entry_type, entries, tx.idempotency_key, tx.hold_id)  # type: ignore[arg-type]

    def _load_holds(self, conn: Connection | None, book: Book, hold_ids: set[str]) -> None:
        if not hold_ids:
            return
        assert conn is not None
        q = select(s.holds).where(s.holds.c.id.in_(list(hold_ids))).order_by(s.holds.c.id)
        book.holds.update((r.id, _hold(r)) for r in conn.execute(q))

    def _reload_assets(self, sess: _Session) -> None:
        if sess.pg is None:
            self._load_assets(sess.conn)
            return
        with _driver_errors:
            (rows,) = _round_trip(sess.pg, [(_PG_ASSETS, {})])
        self._assets = {code: Asset(code, scale, name) for code, scale, name in rows}

    def _pg_load(self, sess: _Session, keys: set[str], holds: set[str], pairs: set[tuple[str, str]]) -> None:
        """On PostgreSQL, in ONE round trip (a pipeline; the server still runs the
        statements one after another, each reading what was committed when it started):
        in a session, lock ``keys`` (advisory locks: same-key requests of concurrent
        batches wait there for each other); lock ``holds`` and load them; load ``keys``
        with those `probe_keys` asked for, and lock the session's unseen balance rows of
        ``pairs`` (and those `prelock` asked for), with their accounts' flags. Locks are
        taken in that order, each kind in sorted order, as every batch takes them: no
        deadlocks. (The chain head and the journal ids wait for the engine: a refused
        request draws no ids, so the journal's ids skip none past it.)

        A batch of one call takes no key locks: it looks its keys up with its balance
        rows, and if a concurrent batch commits one of them meanwhile, its own insert of
        that key fails on the primary key (a unique violation) and the batch is retried,
        finding the key then. One statement less for every keyed transfer; in a session
        such a failure would abort everyone's batch, so sessions wait on the locks."""
        pg, book = sess.pg, sess.book
        assert pg is not None
        probes = sess.probes - sess.probed if keys else set()
        new = sorted((pairs | sess.wanted) - sess.seen)
        sess.wanted.clear()
        if not (keys or holds or new):
            return
        statements: list[tuple[str, dict[str, Any]]] = []
        if keys and sess.conn is not None:
            statements.append((_PG_KEY_LOCKS, {"ids": sorted({_key_lock_id(k) for k in keys})}))
        held_at = len(statements)  # where the holds' rows come back, if asked for
        if holds:
            statements.append((_PG_HOLDS, {"ids": list(holds)}))
        if keys or new:
            statements.append((_PG_LOAD, {"keys": list(keys | probes), "acc": [a for a, _ in new],
                                          "ast": [x for _, x in new], "addr": sorted({a for a, _ in new})}))
        with _driver_errors:
            results = _round_trip(pg, statements)
            if holds:
                book.holds.update((r[0], Hold(r[0], r[1], r[2], r[3], r[4], _utc(r[5]),  # type: ignore[arg-type]
                                                    _utc(r[6]), _utc(r[7]), r[8], r[9]))
                                  for r in results[held_at])
            if not (keys or new):
                return
            before = {}
            for a, b, tx_id, balance, allow_negative, frozen in results[-1]:
                if tx_id is not None:  # a key: a, its fingerprint b
                    if a in probes:
                        sess.present.add(a)
                    if a in keys:
                        book.keys[a] = (b, self._pg_transaction(pg, tx_id))
                elif balance is not None:  # a balance row: account a, asset b
                    before[(a, b)] = balance
                else:  # a flagged account a
                    _flag(book, ((a, allow_negative, frozen),))
        sess.probed |= probes
        book.balances.update(before)
        sess.before.update(before)
        sess.seen.update(new)

    def _pg_transaction(self, pg: psycopg.Connection[Any], tx_id: str) -> Transaction:
        head, rows = _round_trip(pg, [(_PG_TRANSACTION, {"id": tx_id}), (_PG_TX_ENTRIES, {"id": tx_id})])
        tid, at, entry_type, key, hold_id = head[0]
        entries = tuple(Entry(r[0], r[1], _utc(r[2]), *r[3:]) for r in rows)  # type: ignore[arg-type]
        return Transaction(tid, _utc(at), entry_type, entries, key, hold_id)  # type: ignore[arg-type]

    def prelock(self, pairs: Iterable[tuple[str, str]]) -> None:
        """In a session: lock these (account, asset) balance rows together with the next
        rows the session locks, in the same statement. A caller that knows which rows its
        coming calls touch (the writer, for a batch's orders: their owners, and the makers
        they would fill against) saves a round trip per call; rows never touched are just
        locked for nothing. Outside a session it does nothing."""
        sess = self._session_state()
        if sess is not None:
            sess.wanted.update(p for p in pairs if p[1] in self._assets)

    def _lock_unseen(self, sess: _Session, pairs: set[tuple[str, str]]) -> None:
        """Lock the balance rows of ``pairs`` (and those `prelock` asked for) the session
        has not locked yet, in one statement."""
        if sess.pg is not None:
            self._pg_load(sess, set(), set(), pairs)
            return
        new = (pairs | sess.wanted) - sess.seen
        sess.wanted.clear()
        sess.before.update(self._lock_balances(sess.conn, sess.book, new))
        sess.seen |= new

    def _in(self, column: Any, values: Collection[Any]) -> Any:
        """``column IN values``. On PostgreSQL ``= ANY`` one array parameter: the statement
        is the same whatever the number of values, so it is compiled and parsed once, not
        rendered with one parameter per value at every execution (the writer's key and
        hold lookups spent more on that than on running them)."""
        if self._pg:
            return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return column.in_(list(values))

    def _lock_balances(self, conn: Connection | None, book: Book,
                       pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """SQLite (PostgreSQL: `_pg_load`): read the balance rows the batch touches (the
        database has one writer at a time) and its accounts' flags. A missing row is a
        zero balance; it is inserted only if a posting is applied to it (see `_write`)."""
        if not pairs:
            return {}
        assert conn is not None
        ordered = sorted(pairs)
        addresses = sorted({a for a, _ in pairs})
        balances = conn.execute(
            select(s.balances.c.account, s.balances.c.asset, s.balances.c.balance)
            .where(tuple_(s.balances.c.account, s.balances.c.asset).in_(ordered)))
        before = {(r.account, r.asset): r.balance for r in balances}
        book.balances.update(before)
        _flag(book, [(r.address, r.allow_negative, r.frozen) for r in conn.execute(
            select(s.accounts).where(s.accounts.c.address.in_(addresses),
                                     s.accounts.c.allow_negative | s.accounts.c.frozen))])
        return before

    def _write(self, sess: _Session, created_accounts: set[str], *, commit: bool = False) -> dict[int, int]:
        """Write what the session's applied transactions did to its book; returns the
        journal ids the database gave the entries (Journal ids come from the database,
        allocated while the rows are locked, so they follow commit order per account:
        what `check` replays by). With ``commit``, on PostgreSQL, the COMMIT goes in the
        same round trip as the writes."""
        book, applied, before, loaded_holds = sess.book, sess.applied, sess.before, sess.loaded_holds
        new_tx_ids = {t.id for t in applied}
        keyed = []
        for k, (fp, tx) in book.keys.items():
            if tx.id in new_tx_ids:
                assert fp is not None, "a SQL book computes every fingerprint"
                keyed.append((k, fp, tx.id))
        new_balances = [(a, x, b) for (a, x), b in book.balances.items() if (a, x) not in before]
        changed = [(a, x, b) for (a, x), b in book.balances.items() if (a, x) in before and before[(a, x)] != b]
        new_accounts = sorted({a for a, _x, _b in new_balances} - self._known_accounts)
        created_accounts.update(new_accounts)
        touched = sorted({t.hold_id for t in applied if t.hold_id is not None})
        new_holds = [book.holds[h] for h in touched if h not in loaded_holds]
        settled = [book.holds[h] for h in touched if h in loaded_holds]
        rows = _Rows(book.journal, applied, keyed, new_accounts, new_balances, changed, new_holds, settled)
        if sess.pg is not None:
            new_ids = self._write_pg(sess.pg, rows, commit)
        else:
            assert sess.conn is not None
            new_ids = self._write_rows(sess.conn, rows)
        return {e.id: new_id for e, new_id in zip(book.journal, new_ids, strict=True)}

    def _write_pg(self, pg: psycopg.Connection[Any], rows: _Rows, commit: bool) -> list[int]:
        """The batch's writes in ONE statement that also takes a chain and draws the ids
        (`_PG_CHAIN`), and the COMMIT, in one round trip."""
        journal = rows.journal
        with _driver_errors:
            columns: list[list[Any]] = [list(c) for c in zip(*journal, strict=True)]
            columns[15] = [None if m is None else json.dumps(m) for m in columns[15]]
            params: dict[str, Any] = dict(zip(_SENT_COLUMNS, columns[1:], strict=True))
            params.update(chain=1 + int(random.random() * s.CHAINS), tail=[hash_tail(e) for e in journal])
            params.update(t_id=[t.id for t in rows.applied], t_time=[t.time for t in rows.applied],
                          t_entry_type=[t.entry_type for t in rows.applied],
                          t_idempotency_key=[t.idempotency_key for t in rows.applied],
                          t_hold_id=[t.hold_id for t in rows.applied])
            parts = ["entries", "transactions", "head_moved"]

            def add(part: str, prefix: str, names: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
                if values:
                    parts.append(part)
                    params.update({prefix + n: list(c) for n, c in zip(names, zip(*values, strict=True), strict=True)})

            add("keys", "k_", ["key", "fingerprint", "tx_id"], rows.keyed)
            if rows.new_accounts:
                parts.append("accounts")
                params.update(a_address=rows.new_accounts, a_at=rows.applied[0].time)
            # A concurrent batch may have created the same balance row since we looked: that
            # is a unique violation, and the whole batch is retried with the row locked.
            add("new_balances", "nb_", ["acc", "ast", "bal"], rows.new_balances)
            add("balances", "b_", ["acc", "ast", "bal"], rows.changed)
            add("new_holds", "nh_", _HOLD_COLUMNS, rows.new_holds)
            add("holds", "h_", ["id", "amount", "status", "settled_at"],
                [(h.id, h.amount, h.status, h.settled_at) for h in rows.settled])
            (written,) = _round_trip(pg, [(_pg_writes(tuple(parts)), params)], commit=commit)
            return [r[0] for r in written]

    def _write_rows(self, conn: Connection, rows: _Rows) -> list[int]:
        """The portable path (SQLite, one writer at a time): plain inserts and updates, and
        chain 1 only, numbered from its head."""
        last_id, head = conn.execute(select(s.journal_head.c.last_id, s.journal_head.c.hash)
                                     .where(s.journal_head.c.id == 1)).one()
        new_ids = list(range(last_id + 1, last_id + 1 + len(rows.journal)))
        hashes = _chain(rows.journal, new_ids, head)
        entries = [dict(e._asdict(), id=i, hash=h, chain=1)
                   for e, i, h in zip(rows.journal, new_ids, hashes, strict=True)]
        conn.execute(insert(s.entries), entries)
        conn.execute(update(s.journal_head).where(s.journal_head.c.id == 1)
                     .values(last_id=new_ids[-1], hash=hashes[-1]))
        conn.execute(insert(s.transactions), [
            {"id": t.id, "time": t.time, "entry_type": t.entry_type,
             "idempotency_key": t.idempotency_key, "hold_id": t.hold_id} for t in rows.applied])
        if rows.keyed:
            conn.execute(insert(s.idempotency_keys),
                         [{"key": k, "fingerprint": fp, "tx_id": tx_id} for k, fp, tx_id in rows.keyed])
        if rows.new_accounts:
            conn.execute(self._insert(s.accounts).on_conflict_do_nothing(), [
                {"address": a, "allow_negative": False, "frozen": False, "created_at": rows.applied[0].time}
                for a in rows.new_accounts])
        if rows.new_balances:
            conn.execute(insert(s.balances), [{"account": a, "asset": x, "balance": b} for a, x, b in rows.new_balances])
        if rows.changed:
            conn.execute(
                update(s.balances)
                .where(s.balances.c.account == bindparam("a"), s.balances.c.asset == bindparam("x"))
                .values(balance=bindparam("b")),
                [{"a": a, "x": x, "b": b} for a, x, b in rows.changed],
            )
        if rows.new_holds:
            conn.execute(insert(s.holds), [h._asdict() for h in rows.new_holds])
        for hold in rows.settled:
            conn.execute(update(s.holds).where(s.holds.c.id == hold.id).values(
                amount=hold.amount, status=hold.status, settled_at=hold.settled_at))
        return new_ids

    # -- reading -------------------------------------------------------------
    def balance(self, account: str, asset: str) -> int:
        sess = self._session_state()
        if sess is not None and asset in self._assets:
            # In a session a balance is read to decide a write (the market checks funds,
            # then locks them): lock the row now, so the write finds it locked and the
            # check and the write see one value, for one round trip instead of two.
            self._lock_unseen(sess, {(account, asset)})
            return sess.book.balances.get((account, asset), 0)
        with self._reading() as conn:
            value = conn.scalar(select(s.balances.c.balance).where(
                s.balances.c.account == account, s.balances.c.asset == asset))
        return int(value or 0)

    def balances(self, account: str) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute(select(s.balances.c.asset, s.balances.c.balance)
                                .where(s.balances.c.account == account))
            out = {r.asset: r.balance for r in rows}
        sess = self._session_state()
        if sess is not None:
            out.update({x: b for (a, x), b in sess.book.balances.items() if a == account})
        return out

    def get_hold(self, hold_id: str) -> Hold | None:
        sess = self._session_state()
        if sess is not None and hold_id in sess.book.holds:
            return sess.book.holds[hold_id]
        with self._reading() as conn:
            row = conn.execute(select(s.holds).where(s.holds.c.id == hold_id)).first()
        return _hold(row) if row else None

    def holds(self, *, account: str | None = None, status: str | None = None) -> list[Hold]:
        q = select(s.holds).order_by(s.holds.c.created_at, s.holds.c.id)
        if account is not None:
            q = q.where(s.holds.c.account == account)
        if status is not None:
            q = q.where(s.holds.c.status == status)
        with self._reading() as conn:
            found = {r.id: _hold(r) for r in conn.execute(q)}
        sess = self._session_state()
        if sess is None:
            return list(found.values())
        for h in sess.book.holds.values():  # the session's version of a hold wins
            if (account is None or h.account == account) and (status is None or h.status == status):
                found[h.id] = h
            else:
                found.pop(h.id, None)
        return sorted(found.values(), key=lambda h: (h.created_at, h.id))

    def entries(
        self,
        *,
        account: str | None = None,
        entry_type: str | None = None,
        asset: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Entry]:
        params = {"account": account, "entry_type": entry_type, "asset": asset, "offset": offset, "limit": limit}
        q = _entries_query(account is not None, entry_type is not None, asset is not None, limit is not None,
                           newest_first)
        with self._reader.connect() as conn:
            return [_entry(r) for r in conn.execute(q, params)]

    # -- what `check` reads, from one consistent snapshot ----------------------
    @contextmanager
    def snapshot(self) -> Iterator[_Snapshot]:
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield _Snapshot(conn)

    def iter_journal(self) -> Iterator[Entry]:
        with self.snapshot() as snap:
            yield from snap.iter_journal()

    def stored_balances(self) -> Iterable[tuple[str, str, int]]:
        with self.snapshot() as snap:
            return list(snap.stored_balances())

    def negative_allowed(self) -> set[str]:
        with self.snapshot() as snap:
            return snap.negative_allowed()

    def all_holds(self) -> Iterable[Hold]:
        with self.snapshot() as snap:
            return list(snap.all_holds())

    def iter_chain(self) -> Iterator[tuple[Entry, int, str | None]]:
        with self.snapshot() as snap:
            yield from snap.iter_chain()

    def chain_heads(self) -> dict[int, tuple[int, str]] | None:
        with self.snapshot() as snap:
            return snap.chain_heads()

    def iter_transactions(self) -> Iterable[TxRow]:
        with self.snapshot() as snap:
            return list(snap.iter_transactions())

    def iter_keys(self) -> Iterable[tuple[str, str]]:
        with self.snapshot() as snap:
            return list(snap.iter_keys())


class _Snapshot:
    """The check's inputs read inside one transaction (REPEATABLE READ on PostgreSQL),
    so a check run while writers are busy sees one consistent state."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def iter_journal(self) -> Iterator[Entry]:
        result = self.conn.execution_options(yield_per=5000).execute(select(s.entries).order_by(s.entries.c.id))
        for row in result:
            yield _entry(row)

    def stored_balances(self) -> Iterable[tuple[str, str, int]]:
        return [(r.account, r.asset, r.balance) for r in self.conn.execute(select(s.balances))]

    def negative_allowed(self) -> set[str]:
        return set(self.conn.scalars(select(s.accounts.c.address).where(s.accounts.c.allow_negative)))

    def all_holds(self) -> Iterable[Hold]:
        return [_hold(r) for r in self.conn.execute(select(s.holds))]

    def iter_chain(self) -> Iterator[tuple[Entry, int, str | None]]:
        result = self.conn.execution_options(yield_per=5000).execute(select(s.entries).order_by(s.entries.c.id))
        for row in result:
            yield _entry(row), row.chain, row.hash

    def chain_heads(self) -> dict[int, tuple[int, str]] | None:
        h = s.journal_head.c
        return {r.id: (r.last_id, r.hash) for r in self.conn.execute(select(h.id, h.last_id, h.hash))}

    def iter_transactions(self) -> Iterable[TxRow]:
        t = s.transactions.c
        return [TxRow(r.id, r.idempotency_key) for r in self.conn.execute(select(t.id, t.idempotency_key))]

    def iter_keys(self) -> Iterable[tuple[str, str]]:
        k = s.idempotency_keys.c
        return [(r.key, r.tx_id) for r in self.conn.execute(select(k.key, k.tx_id))]

