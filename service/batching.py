"""`BatchingStore`: the ledger's writes made at the same time by different request
threads go through the writer (service.writer), which commits them together by group
commit (service.group_commit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger import LedgerError, Transaction, TransferRequest

from .writer import Writer

__all__ = ["BatchingStore"]


class BatchingStore:
    """Wraps the ledger's Store so that its writes (`apply`, `apply_many`) made at the
    same time by different request threads are committed together, by the process's
    writer (service.writer: on PostgreSQL in its batch transaction, on SQLite with one
    `apply_many` commit), or by another process's (service.writer_socket.RemoteWriter).
    Reads pass straight through to the wrapped store."""

    def __init__(self, inner: Any, *, writer: Any = None) -> None:
        self.inner = inner
        self._own_writer = writer is None
        self.writer = writer or Writer(inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        tx: Transaction = self.writer.apply(request, now)
        return tx

    def apply_many(self, requests: Sequence[TransferRequest], now: datetime) -> list[Transaction | LedgerError]:
        results: list[Transaction | LedgerError] = self.writer.apply_many(requests, now)
        return results

    def close(self) -> None:
        if self._own_writer:
            self.writer.close()
