"""Every number and switch of the brand-coin market, with the defaults of DESIGN.md
section 5 (2% fees, 1,000,000 max supply, 1 coin earned per USD spent).

Units are in the field names: ``_bps`` is basis points (10000 = 100%), ``_seconds`` and
``_days`` are durations, prices are integer COIN per whole brand coin. The economy
config loads the ``[market]`` table of ``data/economy.toml`` with
``MarketConfig.from_dict``; a sub-table per defense (``[market.price_band]`` ...).

Each defense has an ``enabled`` switch. With everything off the market is a plain
price-time-priority exchange (``MarketConfig.bare()``, what the benchmark runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

__all__ = [
    "STP_MODES",
    "CircuitBreaker",
    "ConfigError",
    "DailyLimit",
    "HoldingCap",
    "MarketConfig",
    "MinHold",
    "PriceBand",
    "PriceFloor",
    "RateLimit",
    "ReferencePrice",
    "Vesting",
]

STP_MODES = ("cancel_newest", "cancel_oldest", "cancel_both", "decrement")


class ConfigError(ValueError):
    """A bad market config value or key; the message names the key."""


def _check(cls_name: str, obj: Any) -> None:
    """Validate the types and ranges every config class declares in ``_rules``."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        rule = obj._rules.get(f.name)
        where = f"{cls_name}.{f.name}"
        if rule is None:
            continue
        kind, lo, hi = rule
        if kind == "bool":
            if type(value) is not bool:
                raise ConfigError(f"{where} must be true or false, got {value!r}")
        elif kind == "int":
            if type(value) is not int:
                raise ConfigError(f"{where} must be an integer, got {value!r}")
            if value < lo or (hi is not None and value > hi):
                top = "" if hi is None else f"..{hi}"
                raise ConfigError(f"{where} must be in {lo}{top}, got {value}")
        elif kind == "choice":
            if value not in lo:
                raise ConfigError(f"{where} must be one of {', '.join(lo)}, got {value!r}")
        elif kind == "account" and (type(value) is not str or ":" not in value):
            raise ConfigError(f"{where} must be an account address like 'platform:x', got {value!r}")


@dataclass(frozen=True)
class ReferencePrice:
    """The manipulation-resistant price (``market.reference``): the band's centre and the
    value of every payout (redeem). The VWAP of the last ``window_seconds`` of trades,
    leaving out trades inside a ring; it moves only when the trades it counts add up to
    ``min_volume`` coins between ``min_accounts`` distinct accounts, else it stays where
    it was (the launch price at first).

    A ring is a set of at most ``ring_max_accounts`` accounts joined by pairs that traded
    with each other ``ring_min_repeats`` times or more in the window, and whose trades
    are more than ``ring_share_bps`` among themselves. There is no switch: payouts never
    use the last trade."""

    window_seconds: int = 86_400
    min_volume: int = 100
    min_accounts: int = 5
    ring_min_repeats: int = 3
    ring_max_accounts: int = 8
    ring_share_bps: int = 5000
    _rules: ClassVar = {"window_seconds": ("int", 1, None), "min_volume": ("int", 1, None),
                        "min_accounts": ("int", 2, None), "ring_min_repeats": ("int", 1, None),
                        "ring_max_accounts": ("int", 2, None), "ring_share_bps": ("int", 0, 10_000)}

    def __post_init__(self) -> None:
        _check("reference", self)


@dataclass(frozen=True)
class PriceBand:
    """Orders may only trade within ``width_bps`` of the reference price
    (``ReferencePrice``). A limit buy above the band (or sell below it) is rejected;
    matching stops at the band."""

    enabled: bool = True
    width_bps: int = 1000
    _rules: ClassVar = {"enabled": ("bool", 0, None), "width_bps": ("int", 1, 100_000)}

    def __post_init__(self) -> None:
        _check("price_band", self)


@dataclass(frozen=True)
class CircuitBreaker:
    """Pause matching for ``pause_seconds`` when a trade would move the price more than
    ``move_bps`` away from any trade of the last ``window_seconds``. While paused, new
    orders are rejected (``mode="reject"``) or queued and run when it resumes (``"queue"``)."""

    enabled: bool = True
    move_bps: int = 2000
    window_seconds: int = 300
    pause_seconds: int = 900
    mode: str = "reject"
    _rules: ClassVar = {"enabled": ("bool", 0, None), "move_bps": ("int", 1, None),
                        "window_seconds": ("int", 1, None), "pause_seconds": ("int", 1, None),
                        "mode": ("choice", ("reject", "queue"), None)}

    def __post_init__(self) -> None:
        _check("circuit_breaker", self)


@dataclass(frozen=True)
class DailyLimit:
    """A user may trade (buy plus sell, counting open orders) at most ``supply_bps`` of
    the coin's max supply per UTC day."""

    enabled: bool = False
    supply_bps: int = 100
    _rules: ClassVar = {"enabled": ("bool", 0, None), "supply_bps": ("int", 1, 10_000)}

    def __post_init__(self) -> None:
        _check("daily_limit", self)


@dataclass(frozen=True)
class HoldingCap:
    """No user may hold (balance plus open buys) more than ``supply_bps`` of max supply.
    The coin's seller and platform accounts are exempt."""

    enabled: bool = False
    supply_bps: int = 500
    _rules: ClassVar = {"enabled": ("bool", 0, None), "supply_bps": ("int", 1, 10_000)}

    def __post_init__(self) -> None:
        _check("holding_cap", self)


@dataclass(frozen=True)
class MinHold:
    """Coins acquired by trade, transfer or airdrop cannot be sold or transferred for
    ``period_seconds``."""

    enabled: bool = False
    period_seconds: int = 86_400
    _rules: ClassVar = {"enabled": ("bool", 0, None), "period_seconds": ("int", 1, None)}

    def __post_init__(self) -> None:
        _check("min_hold", self)


@dataclass(frozen=True)
class Vesting:
    """The seller's launch allocation sits in ``vesting:<SYMBOL>`` and is released to the
    seller linearly over ``duration_days`` from launch, nothing before ``cliff_days``.
    Off: the allocation goes straight to the seller."""

    enabled: bool = True
    cliff_days: int = 30
    duration_days: int = 365
    _rules: ClassVar = {"enabled": ("bool", 0, None), "cliff_days": ("int", 0, None),
                        "duration_days": ("int", 1, None)}

    def __post_init__(self) -> None:
        _check("vesting", self)
        if self.cliff_days > self.duration_days:
            raise ConfigError("vesting.cliff_days must not exceed vesting.duration_days")


@dataclass(frozen=True)
class PriceFloor:
    """A platform buy order from ``account`` rests at ``floor_bps`` of the launch price,
    funded with up to ``budget`` COIN per coin; when it is used up the floor is gone."""

    enabled: bool = False
    floor_bps: int = 5000
    budget: int = 100_000
    account: str = "platform:buyback"
    _rules: ClassVar = {"enabled": ("bool", 0, None), "floor_bps": ("int", 1, 10_000),
                        "budget": ("int", 1, None), "account": ("account", 0, None)}

    def __post_init__(self) -> None:
        _check("price_floor", self)


@dataclass(frozen=True)
class RateLimit:
    """A user may submit at most ``max_orders`` orders per ``window_seconds`` (all coins)."""

    enabled: bool = True
    max_orders: int = 60
    window_seconds: int = 60
    _rules: ClassVar = {"enabled": ("bool", 0, None), "max_orders": ("int", 1, None),
                        "window_seconds": ("int", 1, None)}

    def __post_init__(self) -> None:
        _check("rate_limit", self)


_DEFENSES: dict[str, type] = {
    "price_band": PriceBand,
    "circuit_breaker": CircuitBreaker,
    "daily_limit": DailyLimit,
    "holding_cap": HoldingCap,
    "min_hold": MinHold,
    "vesting": Vesting,
    "price_floor": PriceFloor,
    "rate_limit": RateLimit,
}
_TABLES: dict[str, type] = {**_DEFENSES, "reference": ReferencePrice}


@dataclass(frozen=True)
class MarketConfig:
    """The market's numbers and switches.

    maker_fee_bps / taker_fee_bps: fee on each fill's quote amount, paid in COIN by the
      resting order's owner / the incoming order's owner (200 = 2%).
    fee_destination: ``"revenue"`` (to ``revenue_account``, entry type FEE) or ``"burn"``
      (to the burn account, FEE_BURN).
    stp_mode: self-trade prevention when an order would match its owner's resting order:
      ``cancel_newest`` (the incoming order's rest is cancelled), ``cancel_oldest`` (the
      resting order is cancelled and matching goes on), ``cancel_both``, ``decrement``
      (both shrink by the smaller quantity, no trade).
    market_protection_bps: a market order without a protection price gets one this far
      beyond the reference price; it never trades past it.
    max_supply / seller_allocation_bps: a coin's default cap and the seller's share of it.
    earn_coins_per_usd: coins a customer earns per whole USD spent at the shop (floored).
    earn_source: ``"mint"`` (new coins, within max supply) or ``"seller"`` (paid from the
      seller's vested balance).
    keep_tape: keep every Trade in ``Exchange.trades`` (the simulator may turn it off and
      subscribe instead).
    """

    maker_fee_bps: int = 200
    taker_fee_bps: int = 200
    fee_destination: str = "revenue"
    revenue_account: str = "platform:revenue"
    stp_mode: str = "cancel_newest"
    market_protection_bps: int = 1000
    max_supply: int = 1_000_000
    seller_allocation_bps: int = 1000
    earn_coins_per_usd: int = 1
    earn_source: str = "mint"
    keep_tape: bool = True
    price_band: PriceBand = field(default_factory=PriceBand)
    circuit_breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    daily_limit: DailyLimit = field(default_factory=DailyLimit)
    holding_cap: HoldingCap = field(default_factory=HoldingCap)
    min_hold: MinHold = field(default_factory=MinHold)
    vesting: Vesting = field(default_factory=Vesting)
    price_floor: PriceFloor = field(default_factory=PriceFloor)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    reference: ReferencePrice = field(default_factory=ReferencePrice)

    _rules: ClassVar = {
        "maker_fee_bps": ("int", 0, 10_000),
        "taker_fee_bps": ("int", 0, 10_000),
        "fee_destination": ("choice", ("revenue", "burn"), None),
        "revenue_account": ("account", 0, None),
        "stp_mode": ("choice", STP_MODES, None),
        "market_protection_bps": ("int", 1, 100_000),
        "max_supply": ("int", 1, None),
        "seller_allocation_bps": ("int", 0, 10_000),
        "earn_coins_per_usd": ("int", 0, None),
        "earn_source": ("choice", ("mint", "seller"), None),
        "keep_tape": ("bool", 0, None),
    }

    def __post_init__(self) -> None:
        _check("market", self)
        for name, cls in _TABLES.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"market.{name} must be a {cls.__name__}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MarketConfig:
        """Build from a plain dict (the ``[market]`` TOML table). Missing keys keep their
        defaults; an unknown key or a bad value raises ConfigError naming it."""
        if not isinstance(data, dict):
            raise ConfigError(f"market config must be a table, got {type(data).__name__}")
        top = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in top:
                raise ConfigError(f"unknown key market.{key} (known: {', '.join(sorted(top))})")
            sub = _TABLES.get(key)
            if sub is None:
                kwargs[key] = value
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"market.{key} must be a table")
            known = {f.name for f in fields(sub)}
            for k in value:
                if k not in known:
                    raise ConfigError(f"unknown key market.{key}.{k} (known: {', '.join(sorted(known))})")
            kwargs[key] = sub(**value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _TABLES:
                value = {g.name: getattr(value, g.name) for g in fields(value)}
            out[f.name] = value
        return out

    @classmethod
    def bare(cls, **overrides: Any) -> MarketConfig:
        """Every defense switched off: a plain exchange with fees."""
        off = {name: sub(enabled=False) for name, sub in _DEFENSES.items()}
        off.update(overrides)
        return cls(**off)

    def with_(self, **changes: Any) -> MarketConfig:
        """A copy with some fields changed (``cfg.with_(stp_mode="decrement")``)."""
        return replace(self, **changes)
