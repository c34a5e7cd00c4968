"""Everything a request needs, built once per process: the ledger over the SQL store,
the economy (rules, packages, payments, pools), the key store and the market."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ledger import Ledger, Transaction, TransferRequest
from ledger.economy import Economy
from ledger.economy.config import load_config
from ledger.economy.payments import make_stripe_client
from ledger.sql import SqlStore

from .batching import BatchingStore
from .database import upgrade
from .idempotency import IdempotencyStore
from .keys import KeyStore
from .market_state import MarketState
from .settings import Settings
from .writer import Writer
from .writer_socket import RemoteWriter, WriterServer

__all__ = ["ServiceState"]

T = TypeVar("T")


class ServiceState:
    """``market`` is None in a process that does not own the brand-coin market (see
    Settings.workers and Settings.market_socket)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.migrate:
            upgrade(settings.db)
        self.store = SqlStore(settings.db)
        self.engine = self.store.engine
        # Concurrent requests share COMMITs (service.batching): every ledger write and
        # market change goes through one writer (service.writer): this process's, or,
        # in a worker of several, the market process's (service.writer_socket).
        owns_market = settings.workers == 1 and not settings.market_socket
        remote = settings.writer_socket if settings.writer_socket and not owns_market else None
        self.writer = Writer(self.store) if settings.group_commit and not remote else None
        self.remote_writer = RemoteWriter(remote) if remote else None
        writer = self.remote_writer or self.writer
        self.batching = BatchingStore(self.store, writer=writer) if writer is not None else None
        self.writer_server = (WriterServer(self.writer, settings.writer_socket)
                              if settings.writer_socket and owns_market and self.writer is not None else None)
        self.ledger = Ledger(self.batching or self.store)
        client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
        self.economy = Economy.build(self.ledger, load_config(settings.economy_config), stripe_client=client,
                                     webhook_secret=settings.stripe_webhook_secret)
        self.idempotency = IdempotencyStore(self.engine, group_commit=settings.group_commit)
        self.keys = KeyStore(self.engine, settings.key_cache_seconds)
        # The market's ledger is the bare store: its jobs already run on the writer.
        self.market = MarketState(Ledger(self.store), self.engine, writer=self.writer) if owns_market else None

    async def write(self, job: Callable[[], T], *,
                    rows: Callable[[], Iterable[tuple[str, str]]] | None = None) -> T:
        """Run a route's domain work (``job``: sync code that writes through `ledger`
        and `market`) where writes are cheapest: on PostgreSQL as a job of the process's
        writer, inside its batch transaction, awaited once committed; elsewhere in the
        thread pool. The hot write routes use this; any route may. ``rows``: the balance
        rows the job will probably touch (see `Writer.submit`)."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.submit(job, rows=rows))
        return await run_in_threadpool(job)

    async def post(self, request: TransferRequest) -> Transaction:
        """`Ledger.post` for an async route: on PostgreSQL the request goes straight to the
        process's writer and is awaited there (no thread waits on it, and it shares the
        batch's apply_many); elsewhere Ledger.post runs in the thread pool. A route whose
        ledger work is a request it can build without reading (a vote, a COIN transfer)
        posts it this way and skips the thread-pool hop, the costliest part of a write."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.submit_write(request, self.ledger.clock()))
        return await run_in_threadpool(self.ledger.post, request)

    async def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are ledger idempotency keys: with the writer's next batch (one
        query for all of its probes), or in the thread pool without a writer."""
        if self.writer is not None:
            return await asyncio.wrap_future(self.writer.existing_keys(keys))
        return await run_in_threadpool(self.store.existing_keys, list(keys))

    def healthy(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        if self.writer_server is not None:
            self.writer_server.close()
        if self.market is not None:
            self.market.close()
        if self.batching is not None:
            self.batching.close()
        if self.writer is not None:
            self.writer.close()
        if self.remote_writer is not None:
            self.remote_writer.close()
        self.idempotency.close()
        self.engine.dispose()
