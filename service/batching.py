"""Group commit for the request threads: `BatchingStore` wraps the ledger's Store so
that `apply` calls made at the same time by different requests are committed together
through the store's own `apply_many` (one COMMIT for the lot).

Why: one commit per request is what limits durable writes/s on PostgreSQL (each
COMMIT waits for its fsync); `apply_many` applies each request on its own (one failing
does not fail the others) with the same rules and idempotency as `apply`, and nothing
is acknowledged before its COMMIT has returned. No request waits for a timer: a batch
is whatever queued while the previous COMMIT was in flight, so an idle service
commits each request at once.

Everything but `apply` passes straight through to the wrapped store."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from ledger import LedgerError, Transaction, TransferRequest

__all__ = ["BatchingStore"]


class BatchingStore:
    def __init__(self, inner: Any, *, max_batch: int = 200, committers: int = 2) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self._queue: list[tuple[TransferRequest, datetime, Future[Transaction | LedgerError]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"ledger-commit-{i}", daemon=True)
                         for i in range(committers)]
        for t in self._threads:
            t.start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        fut: Future[Transaction | LedgerError] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the ledger store is closed")
            self._queue.append((request, now, fut))
            self._cond.notify()
        result = fut.result()
        if isinstance(result, LedgerError):
            raise result
        return result

    def apply_many(self, requests: Sequence[TransferRequest], now: datetime) -> list[Transaction | LedgerError]:
        return self.inner.apply_many(requests, now)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue[:] = self._queue[: self.max_batch], self._queue[self.max_batch:]
            try:
                results = self.inner.apply_many([r for r, _, _ in batch], max(n for _, n, _ in batch))
            except BaseException as err:  # the commit itself failed: nobody's write is acknowledged
                for _, _, fut in batch:
                    fut.set_exception(err)
                continue
            for (_, _, fut), result in zip(batch, results, strict=True):
                fut.set_result(result)
