"""Storage behind the ``Idempotency-Key`` header: one row per (owner, key) with the
request's fingerprint, then the response it got.

A request first *claims* its key (a new row: run it; the same fingerprint with a stored
response: replay it; another fingerprint: conflict; no response yet: still running,
unless the claim is stale), and *finishes* it once answered (store the response, or
drop the claim so a retry runs for real).

Claims and finishes of concurrent requests are committed in groups (service.batching):
on PostgreSQL a group is one set-based statement (finishes, then claims as one
INSERT ... ON CONFLICT DO NOTHING) outside a transaction, so a request's bookkeeping
costs a share of one round trip instead of two transactions of its own.
A claim the INSERT did not take (the key exists) is decided row by row, as is
everything on SQLite, where writers are serialized anyway."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.service_schema import http_idempotency

from .batching import GroupCommit

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
_PG_GROUP = text(
    "WITH finished AS (UPDATE http_idempotency AS t "
    "SET status = f.status, content_type = f.content_type, body = f.body "
    "FROM unnest(CAST(:f_owner AS text[]), CAST(:f_key AS text[]), CAST(:f_status AS integer[]), "
    "CAST(:f_content_type AS text[]), CAST(:f_body AS bytea[])) AS f(owner, key, status, content_type, body) "
    "WHERE t.owner = f.owner AND t.key = f.key AND t.status IS NULL), "
    "claimed AS (INSERT INTO http_idempotency (owner, key, fingerprint, created_at) "
    "SELECT * FROM unnest(CAST(:owner AS text[]), CAST(:key AS text[]), CAST(:fingerprint AS text[]), "
    "CAST(:at AS timestamptz[])) AS v(owner, key, fingerprint, at) ORDER BY owner, key "
    "ON CONFLICT DO NOTHING RETURNING owner, key) "
    "SELECT owner, key FROM claimed")
_PG_DROP = text(
    "DELETE FROM http_idempotency AS t USING unnest(CAST(:owner AS text[]), CAST(:key AS text[])) AS v(owner, key) "
    "WHERE t.owner = v.owner AND t.key = v.key AND t.status IS NULL")


class IdempotencyStore:
    def __init__(self, engine: Engine, *, group_commit: bool = True) -> None:
        self.engine = engine
        pg = engine.dialect.name == "postgresql"
        # Row-by-row work is single statements: on PostgreSQL run them in autocommit (one
        # round trip instead of BEGIN, statement, COMMIT). SQLite keeps its explicit
        # BEGIN IMMEDIATE (ledger.sql.make_engine) so writers queue, not fail.
        self._single = engine.execution_options(isolation_level="AUTOCOMMIT") if pg else engine
        run = self._pg_batch if pg and group_commit else self._one_by_one
        self._group: GroupCommit[Claim | Finish, Any] = GroupCommit(run, name="idempotency-commit")

    def claim(self, owner: str, key: str, fingerprint: str) -> Future[Verdict]:
        return self._group.submit(Claim(owner, key, fingerprint, datetime.now(UTC)))

    def finish(self, owner: str, key: str, *, keep: bool, status: int, content_type: str,
               body: bytes) -> Future[None]:
        return self._group.submit(Finish(owner, key, keep, status, content_type, body))

    def close(self) -> None:
        self._group.close()

    # -- groups ----------------------------------------------------------------------
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

    def _pg_batch(self, ops: list[Claim | Finish]) -> list[Any]:
        claims = [op for op in ops if isinstance(op, Claim)]
        kept = [op for op in ops if isinstance(op, Finish) and op.keep]
        dropped = [op for op in ops if isinstance(op, Finish) and not op.keep]
        drops_done = False
        try:
            with self._single.connect() as conn:
                if dropped:  # denials and server errors: rare; before the claims, as before
                    conn.execute(_PG_DROP, {"owner": [f.owner for f in dropped], "key": [f.key for f in dropped]})
                    drops_done = True
                taken = {(r.owner, r.key) for r in conn.execute(_PG_GROUP, {
                    "f_owner": [f.owner for f in kept], "f_key": [f.key for f in kept],
                    "f_status": [f.status for f in kept], "f_content_type": [f.content_type for f in kept],
                    "f_body": [f.body for f in kept],
                    "owner": [c.owner for c in claims], "key": [c.key for c in claims],
                    "fingerprint": [c.fingerprint for c in claims], "at": [c.at for c in claims]})}
        except DBAPIError:
            # e.g. a deadlock with another group: what its statements did not do is done
            # row by row, each on its own
            return [None if drops_done and isinstance(op, Finish) and not op.keep else self._one_by_one([op])[0]
                    for op in ops]
        out: list[Any] = []
        for op in ops:
            if isinstance(op, Finish):
                out.append(None)
            elif (op.owner, op.key) in taken:
                taken.discard((op.owner, op.key))  # the same key twice in a group: one runs
                out.append(("run", None))
            else:  # the key was there already: replay, conflict or busy
                out.extend(self._one_by_one([op]))
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
