"""The process's one writer: every ledger write a request makes and every change to the
brand-coin market runs on one thread, in arrival order. On PostgreSQL whatever
queued while the previous batch was committing is committed together in ONE
transaction (`SqlStore.session`: each request still validated and applied on its own,
atomically, on rows the transaction has locked; the rows written in bulk at the end).

Why one writer: the market applies its fills one after another, each depending on the
last, so its batch locks rows as it goes; two such transactions, or one and the
ledger's own group commits, could lock the same rows in opposite orders and wait for
PostgreSQL's deadlock detector (a second each time). One writer per process has no one
to deadlock with but other processes (CLI grants, other workers without a market),
and a batch costs one COMMIT and a handful of set-based statements, whatever its size.

Nothing is acknowledged before the COMMIT. If the transaction fails (a deadlock with
another process, a lost connection) none of the batch is in the database; the
``on_rollback`` hooks run (the market rebuilds its books from the database), then each
job runs again alone, in its own transaction, and its own outcome is what its caller
gets."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger import LedgerError, Transaction, TransferRequest

from .group_commit import GroupCommit

__all__ = ["Writer"]

T = TypeVar("T")


class _LedgerWrite(NamedTuple):
    request: TransferRequest
    now: datetime


class _KeyProbe(NamedTuple):
    keys: frozenset[str]


class _Hinted(NamedTuple):
    """A job that can say, when its batch starts, which balance rows it will touch."""

    fn: Callable[[], Any]
    rows: Callable[[], Iterable[tuple[str, str]]]


Job = Callable[[], Any] | _LedgerWrite | _KeyProbe | _Hinted


class Writer:
    """``batched`` (default: on PostgreSQL) runs each batch in one `SqlStore.session`;
    unbatched (SQLite, one writer at a time anyway) the same jobs run in the same order,
    each committing as it goes: the batch's ledger requests still share one
    `apply_many` commit, and a database error is only its own job's."""

    def __init__(self, store: Any, *, batched: bool | None = None, max_batch: int = 200) -> None:
        self.store = store  # a SqlStore
        self.batched = store.dialect == "postgresql" if batched is None else batched
        self.on_rollback: list[Callable[[], None]] = []
        self.before_commit: list[Callable[[], None]] = []  # run at the end of each batch, in its transaction
        self.after_commit: list[Callable[[], None]] = []  # run once a batch's writes are committed
        self._local = threading.local()
        self._group: GroupCommit[Job, Any] = GroupCommit(self._run_batch, max_batch=max_batch, committers=1,
                                                         name="writer")

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        """One ledger request (what `BatchingStore.apply` sends): a batch's requests are
        applied with one `apply_many`, which loads their rows in one go. Called by a job
        on the writer itself, it joins that job's transaction directly."""
        if self._on_writer():
            return self.store.apply(request, now)
        tx: Transaction = self.submit_write(request, now).result()
        return tx

    def submit_write(self, request: TransferRequest, now: datetime) -> Future[Transaction]:
        """`apply` without waiting, for an async route (awaited with asyncio.wrap_future):
        the request joins the next batch's one apply_many, and no thread waits for it."""
        return self._group.submit(_LedgerWrite(request, now))

    def existing_keys(self, keys: Iterable[str]) -> Future[set[str]]:
        """Which of ``keys`` are ledger idempotency keys, answered with the next batch:
        the probes of a batch are one query (`SqlStore.existing_keys`), after its writes."""
        return self._group.submit(_KeyProbe(frozenset(keys)))

    def apply_many(self, requests: Sequence[TransferRequest], now: datetime) -> list[Transaction | LedgerError]:
        """Several requests as one job: each applied on its own, in order, in one batch."""
        return self.run(lambda: self.store.apply_many(requests, now))

    def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the writer thread inside the current batch's transaction; returns
        (or raises) its outcome once that transaction has committed. Called by a job on
        the writer itself, it just runs ``job``."""
        if self._on_writer():
            return job()
        result: T = self._group.submit(job).result()
        return result

    def submit(self, job: Callable[[], T], *, rows: Callable[[], Iterable[tuple[str, str]]] | None = None
               ) -> Future[T]:
        """`run` without waiting: the Future resolves once the batch has committed (an
        async route awaits it with asyncio.wrap_future: no thread-pool hop).

        ``rows``, called on the writer when the batch starts, names the (account, asset)
        balance rows the job will probably touch (an order: its owner's and its likely
        makers'): the batch locks the rows of all its jobs in one statement
        (`SqlStore.prelock`) instead of one or two round trips per job. A wrong guess
        costs a lock, never correctness: the job locks what it really touches."""
        return self._group.submit(job if rows is None else _Hinted(job, rows))

    @property
    def conn(self) -> Connection | None:
        """The open batch transaction, for the job running now (None elsewhere, and
        always when unbatched)."""
        return getattr(self._local, "conn", None)

    def close(self) -> None:
        self._group.close()

    def _on_writer(self) -> bool:
        return getattr(self._local, "running", False)

    def _run_batch(self, jobs: list[Job]) -> list[Any]:
        if not self.batched:
            out = self._run_jobs(jobs, None)
            self._committed()
            return out
        try:
            out = self._in_session(jobs)
            self._committed()
            return out
        except Exception:
            self._rolled_back()
        out = []
        for job in jobs:
            try:
                out.extend(self._in_session([job]))
                self._committed()
            except Exception as err:
                self._rolled_back()
                out.append(err)
        return out

    def _committed(self) -> None:
        for hook in self.after_commit:
            hook()

    def _rolled_back(self) -> None:
        for hook in self.on_rollback:
            hook()

    def _in_session(self, jobs: list[Job]) -> list[Any]:
        with self.store.session() as conn:
            return self._run_jobs(jobs, conn)

    def _run_jobs(self, jobs: list[Job], conn: Connection | None) -> list[Any]:
        """The batch's ledger requests first, with one apply_many (their rows loaded in
        one go, with the rows its hinted jobs named, and their keys with its key probes'),
        then the probes' answers, then the other jobs. Reordering is safe: these are concurrent requests with no order
        between them, and no one hears of any outcome before the COMMIT."""
        self._local.conn, self._local.running = conn, True
        try:
            probes: list[tuple[int, _KeyProbe]] = [(i, job) for i, job in enumerate(jobs) if isinstance(job, _KeyProbe)]
            if conn is not None:  # what the batch's statements can look up together
                hints = [job.rows for job in jobs if isinstance(job, _Hinted)]
                if hints:
                    self._outcome(lambda: self.store.prelock({r for rows in hints for r in rows()}))
                if probes:  # with the writes' own idempotency keys: one query for both
                    self.store.probe_keys({k for _, p in probes for k in p.keys})
            writes = [i for i, job in enumerate(jobs) if isinstance(job, _LedgerWrite)]
            out: list[Any] = [None] * len(jobs)
            if writes:
                run: list[_LedgerWrite] = [jobs[i] for i in writes]  # type: ignore[misc]
                results = self._outcome(lambda: self.store.apply_many([w.request for w in run],
                                                                      max(w.now for w in run)))
                for n, i in enumerate(writes):
                    out[i] = results if isinstance(results, BaseException) else results[n]
            if probes:
                found = self._outcome(lambda: self.store.existing_keys(frozenset().union(*(p.keys for _, p in probes))))
                for i, probe in probes:
                    out[i] = found if isinstance(found, BaseException) else found & probe.keys
            for i, job in enumerate(jobs):
                if isinstance(job, _Hinted):
                    out[i] = self._outcome(job.fn)
                elif not isinstance(job, _LedgerWrite | _KeyProbe):
                    out[i] = self._outcome(job)
            for hook in self.before_commit:
                hook()
            return out
        finally:
            self._local.conn, self._local.running = None, False

    def _outcome(self, job: Callable[[], Any]) -> Any:
        """A job's own failure is its outcome. A database error fails the batch when
        batched (the transaction is aborted: nothing after it could be written);
        unbatched it is the job's alone, once the hooks have rebuilt what it left."""
        try:
            return job()
        except DBAPIError as err:
            if self.batched:
                raise
            self._rolled_back()
            return err
        except Exception as err:
            return err
