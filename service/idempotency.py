"""Storage behind the ``Idempotency-Key`` header: one row per (owner, key) with the
request's fingerprint, then the response it got.

A request first *claims* its key (a new row: run it; the same fingerprint with a stored
response: replay it; another fingerprint: conflict; no response yet: still running,
unless the claim is stale), and *finishes* it once answered (store the response, or
drop the claim so a retry runs for real).

On PostgreSQL the claims and finishes of concurrent requests are committed in groups by
the event loop itself, over asynchronous psycopg connections of the store's own: a
group is one set-based statement (finishes, then claims as one INSERT ... ON CONFLICT
DO NOTHING) outside a transaction, and whatever queued while a group was in flight is
the next. Why on the loop: with committer threads, each request cost two hand-offs
between threads and their share of the GIL round trips, about a quarter of the
service's CPU per write (an A/B with the store replaced by a no-op: +38% writes/s).
A claim the INSERT did not take (the key exists) is decided row by row, as is
everything on SQLite (in the thread pool: sqlite3 blocks).

The groups belong to one event loop at a time (uvicorn has one per process); a store
used from another loop (tests) starts over there with new connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from ledger.sql import send_lists_in_binary
from service.tables import http_idempotency

__all__ = ["STALE_AFTER", "Claim", "Finish", "IdempotencyStore"]

# A first request that has not finished after this long is taken to have died with its
# process (SIGKILL mid-request); a retry may then run it again. Ledger writes are also
# keyed by the same Idempotency-Key, so a rerun replays what had been committed.
STALE_AFTER = timedelta(seconds=30)

Verdict = tuple[str, Any]  # ("run" | "replay" | "conflict" | "busy", stored response or None)


class Claim(NamedTuple):
    owner: str
    key: str
    fingerprint: str
    at: datetime


class Finish(NamedTuple):
    owner: str
    key: str
    keep: bool  # store the response; False: drop the claim (denials, server errors)
    status: int
    content_type: str
    body: bytes


_T = http_idempotency
# Finishes and claims of a group in ONE statement, run outside a transaction (atomic on
# its own): one round trip, where BEGIN, UPDATE, INSERT and COMMIT took four. Its parts
# see one snapshot, so a claim of a key finished in the same group is not taken by the
# INSERT and is decided row by row afterwards (a replay). ORDER BY: concurrent groups
# take the unique index entries in one order (no deadlocks).
_PG_GROUP = (
    "WITH finished AS (UPDATE http_idempotency AS t "
    "SET status = f.status, content_type = f.content_type, body = f.body "
    "FROM unnest(CAST(%(f_owner)s AS text[]), CAST(%(f_key)s AS text[]), CAST(%(f_status)s AS integer[]), "
    "CAST(%(f_content_type)s AS text[]), CAST(%(f_body)s AS bytea[])) AS f(owner, key, status, content_type, body) "
    "WHERE t.owner = f.owner AND t.key = f.key AND t.status IS NULL), "
    "claimed AS (INSERT INTO http_idempotency (owner, key, fingerprint, created_at) "
    "SELECT * FROM unnest(CAST(%(owner)s AS text[]), CAST(%(key)s AS text[]), CAST(%(fingerprint)s AS text[]), "
    "CAST(%(at)s AS timestamptz[])) AS v(owner, key, fingerprint, at) ORDER BY owner, key "
    "ON CONFLICT DO NOTHING RETURNING owner, key) "
    "SELECT owner, key FROM claimed")
_PG_DROP = (
    "DELETE FROM http_idempotency AS t USING unnest(CAST(%(owner)s AS text[]), CAST(%(key)s AS text[])) "
    "AS v(owner, key) WHERE t.owner = v.owner AND t.key = v.key AND t.status IS NULL")


class IdempotencyStore:
    def __init__(self, engine: Engine, *, group_commit: bool = True, lanes: int = 2, max_group: int = 200) -> None:
        self.engine = engine
        pg = engine.dialect.name == "postgresql"
        # Row-by-row work is single statements: on PostgreSQL run them in autocommit (one
        # round trip instead of BEGIN, statement, COMMIT). SQLite keeps its explicit
        # BEGIN IMMEDIATE (ledger.sql.make_engine) so writers queue, not fail.
        self._single = engine.execution_options(isolation_level="AUTOCOMMIT") if pg else engine
        self._grouped = pg and group_commit
        # libpq's URL for the groups' own connections (the engine's, without "+psycopg")
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False) if pg else ""
        self._lanes, self._max_group = lanes, max_group  # groups in flight at once, and their size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[tuple[Claim | Finish, asyncio.Future[Any]]] = []
        self._running = 0  # lanes running now
        self._tasks: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._closed = False

    async def claim(self, owner: str, key: str, fingerprint: str) -> Verdict:
        verdict: Verdict = await self._submit(Claim(owner, key, fingerprint, datetime.now(UTC)))
        return verdict

    async def finish(self, owner: str, key: str, *, keep: bool, status: int, content_type: str,
                     body: bytes) -> None:
        await self._submit(Finish(owner, key, keep, status, content_type, body))

    def close(self) -> None:
        self._closed = True
        self._drop_connections()

    # -- groups ----------------------------------------------------------------------
    async def _submit(self, op: Claim | Finish) -> Any:
        if self._closed:
            raise RuntimeError("closed: no more requests are accepted")
        if not self._grouped:
            (out,) = await run_in_threadpool(self._one_by_one, [op])
            if isinstance(out, BaseException):
                raise out
            return out
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._drop_connections()
            self._loop, self._queue, self._running = loop, [], 0
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, fut))
        if self._running < self._lanes:
            self._running += 1
            task = loop.create_task(self._lane())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await fut

    async def _lane(self) -> None:
        """Run what has queued, a group at a time, until nothing is left."""
        try:
            while self._queue:
                group, self._queue = self._queue[:self._max_group], self._queue[self._max_group:]
                try:
                    results = await self._run_group([op for op, _ in group])
                except Exception as err:  # e.g. the database is down: these requests fail, not the lane
                    results = [err] * len(group)
                for (_, fut), result in zip(group, results, strict=True):
                    if fut.done():  # its request was cancelled
                        continue
                    if isinstance(result, BaseException):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
        finally:
            self._running -= 1

    async def _run_group(self, ops: list[Claim | Finish]) -> list[Any]:
        if self._idle:
            conn = self._idle.pop()
        else:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            send_lists_in_binary(conn)
        try:
            out = await self._pg_batch(conn, ops)
        except BaseException:  # cancelled mid-statement: the connection is not reusable
            conn.pgconn.finish()
            raise
        if conn.broken:  # lost (the group was redone row by row): the next group connects anew
            conn.pgconn.finish()
        else:
            self._idle.append(conn)
        return out

    def _drop_connections(self) -> None:
        # Not awaited: the loop these belong to may be gone. Closing the libpq handle
        # ends the session (PostgreSQL ends what it was doing).
        for conn in self._idle:
            conn.pgconn.finish()
        self._idle = []

    async def _pg_batch(self, conn: psycopg.AsyncConnection[Any], ops: list[Claim | Finish]) -> list[Any]:
        claims = [op for op in ops if isinstance(op, Claim)]
        kept = [op for op in ops if isinstance(op, Finish) and op.keep]
        dropped = [op for op in ops if isinstance(op, Finish) and not op.keep]
        drops_done = False
        try:
            if dropped:  # denials and server errors: rare; before the claims, as before
                await conn.execute(_PG_DROP, {"owner": [f.owner for f in dropped], "key": [f.key for f in dropped]})
                drops_done = True
            cur = await conn.execute(_PG_GROUP, {
                "f_owner": [f.owner for f in kept], "f_key": [f.key for f in kept],
                "f_status": [f.status for f in kept], "f_content_type": [f.content_type for f in kept],
                "f_body": [f.body for f in kept],
                "owner": [c.owner for c in claims], "key": [c.key for c in claims],
                "fingerprint": [c.fingerprint for c in claims], "at": [c.at for c in claims]})
            taken = {(owner, key) for owner, key in await cur.fetchall()}
        except psycopg.Error:
            # e.g. a deadlock with another group: what its statements did not do is done
            # row by row, each on its own
            redo = [op for op in ops if not (drops_done and isinstance(op, Finish) and not op.keep)]
            done = iter(await run_in_threadpool(self._one_by_one, redo))
            return [None if drops_done and isinstance(op, Finish) and not op.keep else next(done) for op in ops]
        rest: list[Claim | Finish] = []  # claims of keys that were there already: replay, conflict or busy
        for op in claims:
            if (op.owner, op.key) in taken:
                taken.discard((op.owner, op.key))  # the same key twice in a group: one runs
            else:
                rest.append(op)
        decided = dict(zip(map(id, rest), await run_in_threadpool(self._one_by_one, rest), strict=True)) if rest else {}
        return [None if isinstance(op, Finish) else decided.get(id(op), ("run", None)) for op in ops]

    def _one_by_one(self, ops: list[Claim | Finish]) -> list[Any]:
        out: list[Any] = []
        for op in ops:
            try:
                if isinstance(op, Claim):
                    out.append(self._claim_one(op))
                else:
                    self._finish_one(op)
                    out.append(None)
            except Exception as err:  # this request's own failure, not the others'
                out.append(err)
        return out

    # -- one request -------------------------------------------------------------------
    def _claim_one(self, c: Claim) -> Verdict:
        try:
            with self._single.begin() as conn:
                conn.execute(insert(_T).values(owner=c.owner, key=c.key, fingerprint=c.fingerprint,
                                               created_at=c.at))
            return "run", None
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(select(_T).where(_T.c.owner == c.owner, _T.c.key == c.key)).first()
            if row is None:  # the first request was denied or failed in between: run it
                conn.execute(insert(_T).values(owner=c.owner, key=c.key, fingerprint=c.fingerprint,
                                               created_at=c.at))
                return "run", None
            if row.fingerprint != c.fingerprint:
                return "conflict", None
            if row.status is not None:
                return "replay", (row.status, row.content_type or "application/json", bytes(row.body or b""))
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            if c.at - created < STALE_AFTER:
                return "busy", None
            taken = conn.execute(update(_T).where(_T.c.owner == c.owner, _T.c.key == c.key, _T.c.status.is_(None),
                                                  _T.c.created_at == row.created_at)
                                 .values(created_at=c.at)).rowcount
            return ("run", None) if taken else ("busy", None)

    def _finish_one(self, f: Finish) -> None:
        where = (_T.c.owner == f.owner, _T.c.key == f.key, _T.c.status.is_(None))
        with self._single.begin() as conn:
            if f.keep:
                conn.execute(update(_T).where(*where).values(status=f.status, content_type=f.content_type,
                                                             body=f.body))
            else:
                conn.execute(delete(_T).where(*where))
