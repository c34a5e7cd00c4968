"""Request and response bodies (JSON, camelCase like the seeds' API). Amounts are
strict integers in the asset's minor unit: a JSON float is refused, not rounded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "Amount", "Api", "BalanceOut", "BookOut", "BrandCoinIn", "BrandCoinOut", "CandleOut", "CheckoutIn",
    "CoinList", "DailyLoginOut", "EarnIn", "GrantIn", "HistoryItemOut", "HistoryOut", "LeaderboardsOut",
    "MetricsOut", "OrderIn", "OrderOut", "PackageIn", "PackageList", "PackageOut", "PackagePatch",
    "PoolIn", "PoolOut", "PortfolioOut", "QuantityIn", "ResolveIn", "ResolutionOut", "SpendOut", "StakeIn",
    "StakeOut", "TradeOut", "TransactionOut", "TransferIn", "TransferOut", "UsdIn", "WebhookOut",
]

MAX = 10**12  # far above any real amount, far below a 64-bit overflow in sums
Amount = Annotated[int, Field(strict=True, gt=0, le=MAX)]
SignedAmount = Annotated[int, Field(strict=True, ge=-MAX, le=MAX)]
UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@\-]{1,120}$")]
Symbol = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,60}$")]


class Api(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# -- coins ------------------------------------------------------------------------------
class PackageOut(Api):
    """A coin package; ``price_cents`` USD cents buys ``total_coins`` = base + bonus."""

    id: str
    name: str
    price_cents: int
    price_usd: float = Field(alias="priceUSD", description="display only; priceCents is the amount")
    base_coins: int
    bonus_coins: int
    total_coins: int
    bonus_percent: float
    value_per_usd: float = Field(alias="valuePerUSD")
    display_order: int
    active: bool


class PackageList(Api):
    packages: list[PackageOut]


class CheckoutIn(Api):
    package_id: Ident
    promo_code: Annotated[str, Field(max_length=40)] | None = None


class CheckoutPackage(Api):
    id: str
    name: str
    price_usd: float = Field(alias="priceUSD")
    price_cents: int
    base_coins: int
    bonus_coins: int
    total_coins: int


class CheckoutOut(Api):
    checkout_url: str | None
    session_id: str
    package: CheckoutPackage
    promo_code: str | None


class BalanceOut(Api):
    """``balance``: spendable COIN; ``held``: COIN locked in holds (stakes, orders);
    ``balances``: spendable amount of every asset the user has."""

    user_id: str
    balance: int
    held: int
    balances: dict[str, int]


class HistoryItemOut(Api):
    """One journal row as the user saw it: ``amount`` is + received, - paid."""

    entry_id: int
    tx_id: str
    time: datetime
    type: str
    asset: str
    amount: int
    balance_before: int
    balance_after: int
    counterparty: str
    ref_type: str | None
    ref_id: str | None
    metadata: dict[str, Any] | None
    note: str | None


class HistoryOut(Api):
    items: list[HistoryItemOut]
    limit: int
    offset: int


class DailyLoginOut(Api):
    """``awarded``: coins for today's login (0 when the reward is off); ``streak_bonus``
    paid when this login completed a streak; ``replayed``: today's bonus was already paid."""

    awarded: int
    streak_bonus: int
    streak_length: int
    replayed: bool
    balance: int


class EarnIn(Api):
    reward: Literal["guest_initial", "signup", "newsletter"]


class SpendOut(Api):
    """What a reward or spend moved (``amount`` > 0); ``replayed``: already done before."""

    action: str
    amount: int
    replayed: bool
    tx_id: str | None
    balance: int


class TransferIn(Api):
    to_user_id: UserId
    amount: Amount
    asset: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,15}$")] = "COIN"
    note: Annotated[str, Field(max_length=200)] | None = None


class TransferOut(Api):
    from_user_id: str
    to_user_id: str
    asset: str
    amount: int
    tx_id: str | None
    balance: int


class WebhookOut(Api):
    received: bool
    event_id: str
    type: str
    outcome: str


# -- pools -------------------------------------------------------------------------------
class PoolIn(Api):
    id: Ident
    title: Annotated[str, Field(max_length=200)]
    outcomes: Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]], Field(min_length=2, max_length=20)]
    max_stake_per_user: Amount | None = None


class PoolOut(Api):
    id: str
    title: str
    outcomes: list[str]
    status: str
    house_fee_bps: int
    min_stake: int
    max_stake_per_user: int
    created_at: datetime
    winning_outcome: str | None


class StakeIn(Api):
    outcome: Annotated[str, Field(min_length=1, max_length=60)]
    amount: Amount


class StakeOut(Api):
    id: int
    pool_id: str
    user_id: str
    outcome: str
    amount: int
    hold_id: str | None


class ResolveIn(Api):
    outcome: Annotated[str, Field(min_length=1, max_length=60)]


class ResolutionOut(Api):
    """``payouts`` per user; ``fee`` (house fee) and ``dust`` (flooring remainder) burned."""

    pool_id: str
    outcome: str | None
    pot: int
    payouts: dict[str, int]
    fee: int
    dust: int
    tx_id: str | None


# -- brand coins and market ------------------------------------------------------------------
class BrandCoinIn(Api):
    symbol: Symbol
    name: Annotated[str, Field(min_length=1, max_length=100)]
    initial_price: Amount
    max_supply: Amount | None = None
    allocation: Annotated[int, Field(strict=True, ge=0, le=MAX)] | None = None


class BrandCoinOut(Api):
    """``price``: last trade price (the launch price before any trade), COIN per coin;
    ``circulating``: issued minus burned; ``market_cap`` = price * circulating."""

    symbol: str
    name: str
    seller: str
    max_supply: int
    initial_price: int
    launched_at: datetime
    price: int
    circulating: int
    market_cap: int


class CoinList(Api):
    coins: list[BrandCoinOut]
    limit: int
    offset: int


class UsdIn(Api):
    usd_cents: Amount


class QuantityIn(Api):
    quantity: Amount


class CoinMoveOut(Api):
    symbol: str
    quantity: int
    value: int | None = None  # redeem: COIN value at the current price
    balance: int


class OrderIn(Api):
    """``type`` limit or market; a market order's ``price`` is its protection price
    (optional). ``tif`` GTC, GTD (with ``expires_at``), IOC or FOK."""

    side: Literal["buy", "sell"]
    quantity: Amount
    price: Amount | None = None
    type: Literal["limit", "market"] = "limit"
    tif: Literal["GTC", "GTD", "IOC", "FOK"] = "GTC"
    post_only: bool = False
    expires_at: datetime | None = None


class OrderOut(Api):
    id: int
    symbol: str
    account: str
    side: str
    kind: str
    price: int
    quantity: int
    remaining: int
    filled: int
    tif: str
    post_only: bool
    expires_at: datetime | None
    status: str
    reason: str | None
    created_at: datetime | None


class OrderList(Api):
    orders: list[OrderOut]
    limit: int
    offset: int


class LevelOut(Api):
    price: int
    quantity: int
    orders: int


class BookOut(Api):
    symbol: str
    bids: list[LevelOut]
    asks: list[LevelOut]
    last_price: int


class TradeOut(Api):
    id: int
    symbol: str
    time: datetime
    price: int
    quantity: int
    quote: int
    buyer: str
    seller: str
    taker_side: str
    maker_order_id: int | None
    taker_order_id: int | None
    buyer_fee: int
    seller_fee: int


class TradeList(Api):
    trades: list[TradeOut]
    limit: int
    offset: int


class CandleOut(Api):
    start: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int


class CandleList(Api):
    symbol: str
    interval: str
    candles: list[CandleOut]


class PositionOut(Api):
    """COIN figures: ``cost`` basis of what is held, ``market_value`` at ``price``,
    ``unrealized`` and ``realized`` P&L (net of fees)."""

    symbol: str
    quantity: int
    cost: int
    price: int
    market_value: int
    unrealized: int
    realized: int


class PortfolioOut(Api):
    user_id: str
    positions: list[PositionOut]


class RankedOut(Api):
    rank: int
    key: str
    value: int


class LeaderboardsOut(Api):
    market_cap: list[RankedOut]
    volume24h: list[RankedOut] = Field(alias="volume24h")
    gainers: list[RankedOut]
    losers: list[RankedOut]


# -- admin ------------------------------------------------------------------------------------
class PackageIn(Api):
    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=40)]
    price_cents: Amount
    bonus_coins: Annotated[int, Field(strict=True, ge=0, le=MAX)] = 0
    base_coins: Amount | None = None
    display_order: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None


class PackagePatch(Api):
    name: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    price_cents: Amount | None = None
    base_coins: Amount | None = None
    bonus_coins: Annotated[int, Field(strict=True, ge=0, le=MAX)] | None = None
    display_order: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None
    active: bool | None = None


class GrantIn(Api):
    """``amount`` > 0 credits the user (minted), < 0 debits."""

    user_id: UserId
    amount: SignedAmount
    reason: Annotated[str, Field(max_length=200)] = ""


class TransactionOut(Api):
    id: int
    tx_id: str
    time: datetime
    type: str
    asset: str
    amount: int
    from_account: str
    to_account: str
    ref_type: str | None
    ref_id: str | None
    note: str | None


class TransactionList(Api):
    items: list[TransactionOut]
    limit: int
    offset: int


class MetricsOut(Api):
    """COIN: ``issued``/``burned`` all time and ``circulating`` = issued - burned;
    ``issued_today``/``burned_today`` (UTC day, net); ``revenue_cents`` all time and
    today (USD cents journalled to platform:revenue)."""

    issued: int
    burned: int
    circulating: int
    issued_today: int
    burned_today: int
    revenue_cents: int
    revenue_today_cents: int
    users: int


class HealthOut(Api):
    status: str
    database: str
    market: str
