"""Everything a request needs, built once per process: the ledger over the SQL store,
the economy (rules, packages, payments, pools), the key store and the market."""

from __future__ import annotations

from sqlalchemy import text

from ledger import Ledger
from ledger.config import load_config
from ledger.economy import Economy
from ledger.payments import make_stripe_client
from ledger.sql import SqlStore, upgrade

from .batching import BatchingStore
from .idempotency import IdempotencyStore
from .keys import KeyStore
from .market_state import MarketState
from .settings import Settings

__all__ = ["ServiceState"]


class ServiceState:
    """``market`` is None when several workers share the database (see Settings.workers)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.migrate:
            upgrade(settings.db)
        self.store = SqlStore(settings.db)
        self.engine = self.store.engine
        # concurrent requests share COMMITs (see service.batching)
        self.batching = BatchingStore(self.store) if settings.group_commit else None
        self.ledger = Ledger(self.batching or self.store)
        client = make_stripe_client(settings.stripe_api_key, settings.stripe_api_base)
        self.economy = Economy.build(self.ledger, load_config(settings.economy_config), stripe_client=client,
                                     webhook_secret=settings.stripe_webhook_secret)
        self.idempotency = IdempotencyStore(self.engine, group_commit=settings.group_commit)
        self.keys = KeyStore(self.engine, settings.key_cache_seconds)
        # The market commits directly: it holds its lock across each order's ledger
        # posts, and waiting for a shared batch there would serialize every order behind it.
        self.market = MarketState(Ledger(self.store), self.engine) if settings.workers == 1 else None

    def healthy(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        if self.market is not None:
            self.market.close()
        if self.batching is not None:
            self.batching.close()
        self.idempotency.close()
        self.engine.dispose()
