"""Wiring: one `Economy` holds the rules, packages, payments, pools and challenges over a
Ledger, with stores that match the ledger's (memory with memory, SQL on the same
engine with SQL). The service and the simulator build theirs with `Economy.build`."""

from __future__ import annotations

from typing import Any, NamedTuple

from ledger.ledger import Ledger

from .challenges import Challenges
from .config import EconomyConfig, load_config
from .packages import MemoryPackageStore, PackageCatalog, SqlPackageStore
from .payment_store import MemoryPaymentStore, SqlPaymentStore
from .payments import Payments
from .pools import MemoryPoolStore, Pools, SqlPoolStore
from .rules import EconomyRules

__all__ = ["Economy"]


class Economy(NamedTuple):
    ledger: Ledger
    config: EconomyConfig
    rules: EconomyRules
    catalog: PackageCatalog
    payments: Payments
    pools: Pools
    challenges: Challenges

    @classmethod
    def build(cls, ledger: Ledger, config: EconomyConfig | None = None, *,
              stripe_client: Any = None, webhook_secret: str = "") -> Economy:
        """``stripe_client``: a stripe.StripeClient (None: checkouts fail, webhooks still work)."""
        config = config or load_config()
        engine = getattr(ledger.store, "engine", None)
        if engine is not None:
            catalog = PackageCatalog(config, SqlPackageStore(engine))
            payment_store: Any = SqlPaymentStore(engine)
            pool_store: Any = SqlPoolStore(engine)
        else:
            catalog = PackageCatalog(config, MemoryPackageStore())
            payment_store, pool_store = MemoryPaymentStore(), MemoryPoolStore()
        return cls(
            ledger, config, EconomyRules(ledger, config), catalog,
            Payments(ledger, config, payment_store, catalog, stripe_client, webhook_secret),
            Pools(ledger, config, pool_store), Challenges(ledger, config),
        )
