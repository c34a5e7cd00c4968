"""Group commit: writes that concurrent requests make at the same time are committed
together, one COMMIT (one fsync on PostgreSQL) for the lot.

`GroupCommit` is the mechanism: callers `submit` items from any thread and get a
Future; committer threads take whatever queued while the previous batch was in
flight and hand it to one ``run_batch`` call. No item waits for a timer, so an idle
service commits each write at once, and nothing is acknowledged (no Future is
resolved) before its batch's COMMIT has returned. ``run_batch`` answers each item on
its own (a value or an exception), so one item failing does not fail the others; an
exception from ``run_batch`` itself fails the whole batch.

service.writer uses it for every ledger write and market change (service.idempotency
groups on the event loop instead); service.batching's `BatchingStore` hands the ledger's
writes to the writer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, run_batch: Callable[[list[T]], Sequence[R | BaseException]], *, max_batch: int = 200,
                 committers: int = 2, name: str = "commit") -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch
        self._queue: list[tuple[T, Future[R]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
                         for i in range(committers)]
        for t in self._threads:
            t.start()

    def submit(self, item: T) -> Future[R]:
        fut: Future[R] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("closed: no more writes are accepted")
            self._queue.append((item, fut))
            self._cond.notify()
        return fut

    def close(self) -> None:
        """Commit what is queued, then stop."""
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
                results = self.run_batch([item for item, _ in batch])
            except BaseException as err:  # the commit itself failed: nobody's write is acknowledged
                for _, fut in batch:
                    fut.set_exception(err)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
