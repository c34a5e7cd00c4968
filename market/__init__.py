"""Brand coins and their market: launch, earn, redeem, transfer and airdrop coins; one
price-time-priority order book per coin quoted in COIN, settled through the ledger;
switchable defenses against pump-and-dump. Market data, the detector and the bonding
curve live in their own modules (candles, stats, portfolio, detector, curve).
The order book's hot modules may run compiled (`market._compiled`)."""

from . import _compiled  # noqa: F401  first: importing it may point the package at the compiled build
from .book import BUY, SELL, Level, Order, OrderBook, OrderStatus
from .coins import BrandCoin, CoinError, vesting_account
from .config import (
    CircuitBreaker,
    ConfigError,
    DailyLimit,
    HoldingCap,
    MarketConfig,
    MinHold,
    PriceBand,
    PriceFloor,
    RateLimit,
    Vesting,
)
from .defenses import DefenseAlert
from .exchange import Exchange, OrderError
from .settlement import fee
from .trades import Trade

__all__ = [
    "BUY", "SELL", "BrandCoin", "CircuitBreaker", "CoinError", "ConfigError", "DailyLimit",
    "DefenseAlert", "Exchange", "HoldingCap", "Level", "MarketConfig", "MinHold", "Order",
    "OrderBook", "OrderError", "OrderStatus", "PriceBand", "PriceFloor", "RateLimit", "Trade",
    "Vesting", "fee", "vesting_account",
]
