"""The economy layer, built on the ledger core (which imports nothing from it): the
config (data/economy.toml), earn and spend rules, coin packages, Stripe payments and
their store, pools, challenges, their SQL tables and errors. `Economy.build` wires them
over a Ledger."""

from .challenges import Challenges
from .config import ConfigError, EconomyConfig, load_config
from .errors import (
    CheckoutAlreadyOpen,
    NotEligible,
    NotFound,
    PaymentProviderError,
    PoolStateError,
    PromoRejected,
    PurchaseLimitExceeded,
    StakeCapExceeded,
    WebhookRejected,
)
from .packages import CoinPackage, PackageCatalog
from .payments import STRIPE, Payments
from .pools import Pools
from .rules import PLATFORM, EconomyRules
from .wiring import Economy

__all__ = [
    "PLATFORM", "STRIPE", "Challenges", "CheckoutAlreadyOpen", "CoinPackage", "ConfigError", "Economy",
    "EconomyConfig", "EconomyRules", "NotEligible", "NotFound", "PackageCatalog", "PaymentProviderError",
    "Payments", "PoolStateError", "Pools", "PromoRejected", "PurchaseLimitExceeded", "StakeCapExceeded",
    "WebhookRejected", "load_config",
]
