"""Request and response bodies: JSON, one naming style (camelCase, like the seeds' API)
in every body, errors included. Amounts are strict integers in the asset's minor unit:
a JSON float is refused, not rounded. Text is refused (422) if it holds a control
character (NUL included), on every store alike. Enumerated values (``side``, ``tif``,
``type``, ...) are accepted in any case and answered in their canonical one. Bodies
name users by their user id, never by a ledger account address.

Every model carries a description (its docstring) and an example, for SDK generators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "Amount", "Api", "BalanceOut", "BookOut", "BrandCoinIn", "BrandCoinOut", "CandleList", "CandleOut",
    "ChallengeIn", "ChallengeOut", "ChallengeResultIn", "CheckoutIn", "CheckoutOut", "CoinList", "CoinMoveOut",
    "DailyLoginOut", "EarnIn", "GrantIn", "HealthOut", "HistoryItemOut", "HistoryOut", "LeaderboardsOut",
    "LevelOut", "MetricsOut", "OrderIn", "OrderList", "OrderOut", "PackageIn", "PackageList", "PackageOut",
    "PackagePatch", "PoolIn", "PoolList", "PoolOut", "PortfolioOut", "PositionOut", "QuantityIn", "RankedOut",
    "ResolutionOut", "ResolveIn", "SpendOut", "StakeIn", "StakeList", "StakeOut", "TickerOut", "TournamentEntryOut",
    "TournamentIn", "TournamentOut", "PayoutIn", "TradeList", "TradeOut", "TransactionList", "TransactionOut",
    "TransferIn", "TransferOut", "UsdIn", "WebhookOut", "canonical_lower", "canonical_upper", "party", "user_id_of",
]

MAX = 10**12  # far above any real amount, far below a 64-bit overflow in sums
Amount = Annotated[int, Field(strict=True, gt=0, le=MAX)]
SignedAmount = Annotated[int, Field(strict=True, ge=-MAX, le=MAX)]
USER_ID = r"^[A-Za-z0-9_.@\-]{1,120}$"
UserId = Annotated[str, Field(pattern=USER_ID, description="a user id: 1-120 letters, digits or _.@-")]
SYMBOL = r"^[A-Z][A-Z0-9]{1,15}$"
Symbol = Annotated[str, Field(pattern=SYMBOL)]
IDENT = r"^[A-Za-z0-9_\-]{1,60}$"
Ident = Annotated[str, Field(pattern=IDENT)]
# Anything printable: no C0 control character, no DEL (PostgreSQL cannot store NUL in
# text, and no id or label needs the others).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int, min_length: int = 0) -> Any:
    """A free-text field: printable, ``min_length``..``max_length`` characters."""
    return Field(pattern=PRINTABLE, min_length=min_length, max_length=max_length)


def canonical_lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def canonical_upper(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


Lower = BeforeValidator(canonical_lower)
Upper = BeforeValidator(canonical_upper)


def user_id_of(account: str | None) -> str | None:
    """The user id of a ``user:<id>`` account; None for every other account."""
    return account[5:] if account is not None and account.startswith("user:") else None


_ROLES = {"system:mint": "mint", "system:burn": "burn", "system:escrow": "escrow"}


def party(account: str) -> tuple[str, str | None]:
    """(kind, user id) of a ledger account, for a body: ``user`` and the id for a user;
    mint, burn, escrow, platform, pool, tournament, external, market, ... (no id) otherwise."""
    if account.startswith("user:"):
        return "user", account[5:]
    return _ROLES.get(account) or account.partition(":")[0], None


class Api(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def example(**values: Any) -> ConfigDict:
    """The model config of an Api model with this example (keys in camelCase, as on the wire)."""
    return ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                      json_schema_extra={"examples": [values]})


T0 = "2026-11-23T10:15:00Z"
_PKG = dict(id="small", name="Small", priceCents=999, priceUSD=9.99, baseCoins=999, bonusCoins=25, totalCoins=1024,
            bonusPercent=2.5, valuePerUSD=102.5, displayOrder=2, active=True)


# -- coins ------------------------------------------------------------------------------
class PackageOut(Api):
    """A coin package: ``priceCents`` USD cents buys ``totalCoins`` = base + bonus."""

    model_config = example(**_PKG)
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
    """The coin packages, in display order."""

    model_config = example(packages=[_PKG])
    packages: list[PackageOut]


class CheckoutIn(Api):
    """Buy a package through Stripe Checkout; ``promoCode`` is optional (e.g. FIRST50)."""

    model_config = example(packageId="small", promoCode="FIRST50")
    package_id: Ident
    promo_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,40}$"), Upper] | None = None


class CheckoutPackage(Api):
    """The package a checkout sells, with the coins it will credit (promo included)."""

    model_config = example(id="small", name="Small", priceUSD=9.99, priceCents=999, baseCoins=999, bonusCoins=524,
                           totalCoins=1523)
    id: str
    name: str
    price_usd: float = Field(alias="priceUSD")
    price_cents: int
    base_coins: int
    bonus_coins: int
    total_coins: int


class CheckoutOut(Api):
    """An open Stripe Checkout Session: send the user to ``checkoutUrl``; the coins are
    credited when Stripe's webhook reports the payment."""

    model_config = example(checkoutUrl="https://checkout.stripe.com/c/pay/cs_test_a1", sessionId="cs_test_a1",
                           package=CheckoutPackage.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                           promoCode="FIRST50")
    checkout_url: str | None
    session_id: str
    package: CheckoutPackage
    promo_code: str | None


class BalanceOut(Api):
    """``balance``: spendable COIN; ``held``: COIN locked in holds (stakes, orders,
    entries); ``balances``: the spendable amount of every asset the user has."""

    model_config = example(userId="alice", balance=120, held=30, balances={"COIN": 120, "HEATHER": 5})
    user_id: str
    balance: int
    held: int
    balances: dict[str, int]


class HistoryItemOut(Api):
    """One journal row as the user saw it: ``amount`` is + received, - paid. The other
    side is ``counterpartyUserId`` when it is a user, else named by ``counterpartyType``
    (mint, burn, escrow, platform, pool, tournament, external, ...)."""

    model_config = example(entryId=42, txId="tx_01", time=T0, type="VOTE_SPENT", asset="COIN", amount=-1,
                           balanceBefore=12, balanceAfter=11, counterpartyType="platform", counterpartyUserId=None,
                           refType="claim", refId="c1", metadata=None, note=None)
    entry_id: int
    tx_id: str
    time: datetime
    type: str
    asset: str
    amount: int
    balance_before: int
    balance_after: int
    counterparty_type: str
    counterparty_user_id: str | None
    ref_type: str | None
    ref_id: str | None
    metadata: dict[str, Any] | None
    note: str | None


class HistoryOut(Api):
    """A page of the user's history, newest first."""

    model_config = example(items=[HistoryItemOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    items: list[HistoryItemOut]
    limit: int
    offset: int


class DailyLoginOut(Api):
    """``awarded``: coins for today's login (0 when the reward is off); ``streakBonus``
    paid when this login completed a streak; ``replayed``: today's bonus was already paid."""

    model_config = example(awarded=2, streakBonus=0, streakLength=3, replayed=False, balance=14)
    awarded: int
    streak_bonus: int
    streak_length: int
    replayed: bool
    balance: int


class EarnIn(Api):
    """A one-time reward to pay (once per user)."""

    model_config = example(reward="signup")
    reward: Annotated[Literal["guest_initial", "signup", "newsletter"], Lower]


class SpendOut(Api):
    """What a reward or spend moved (``amount`` > 0); ``replayed``: already done before."""

    model_config = example(action="vote", amount=1, replayed=False, txId="tx_02", balance=13)
    action: str
    amount: int
    replayed: bool
    tx_id: str | None
    balance: int


class TransferIn(Api):
    """Send ``amount`` of ``asset`` (COIN, or a brand coin's symbol) to another user."""

    model_config = example(toUserId="bob", amount=25, asset="COIN", note="for the pizza")
    to_user_id: UserId
    amount: Amount
    asset: Annotated[str, Field(pattern=SYMBOL), Upper] = "COIN"
    note: Annotated[str, text(200)] | None = None


class TransferOut(Api):
    """A movement between users; ``fromUserId`` is null for coins minted (an admin
    grant), ``toUserId`` null for coins taken back. ``balance``: the acting side's
    balance of ``asset`` after it."""

    model_config = example(fromUserId="alice", toUserId="bob", asset="COIN", amount=25, txId="tx_03", balance=95)
    from_user_id: str | None
    to_user_id: str | None
    asset: str
    amount: int
    tx_id: str | None
    balance: int


class WebhookOut(Api):
    """What a Stripe event did: ``outcome`` fulfilled, replayed, duplicate, refunded, ..."""

    model_config = example(received=True, eventId="evt_1", type="checkout.session.completed", outcome="fulfilled")
    received: bool
    event_id: str
    type: str
    outcome: str


# -- pools -------------------------------------------------------------------------------
class PoolIn(Api):
    """A parimutuel pool on ``outcomes`` (2-20 distinct labels)."""

    model_config = example(id="final-2026", title="Who wins the final?", outcomes=["red", "blue"],
                           maxStakePerUser=500)
    id: Ident
    title: Annotated[str, text(200)]
    outcomes: Annotated[list[Annotated[str, text(60, 1)]], Field(min_length=2, max_length=20)]
    max_stake_per_user: Amount | None = None


class PoolOut(Api):
    """A pool: ``status`` open, resolved or void; stakes above ``maxStakePerUser`` per
    user are refused; ``houseFeeBps`` of the pot is burned at resolution."""

    model_config = example(id="final-2026", title="Who wins the final?", outcomes=["red", "blue"], status="open",
                           houseFeeBps=300, minStake=1, maxStakePerUser=500, createdAt=T0, winningOutcome=None)
    id: str
    title: str
    outcomes: list[str]
    status: str
    house_fee_bps: int
    min_stake: int
    max_stake_per_user: int
    created_at: datetime
    winning_outcome: str | None


class PoolList(Api):
    """A page of pools, newest first."""

    model_config = example(pools=[PoolOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    pools: list[PoolOut]
    limit: int
    offset: int


class StakeIn(Api):
    """Stake ``amount`` COIN on ``outcome`` (held until the pool resolves)."""

    model_config = example(outcome="red", amount=20)
    outcome: Annotated[str, text(60, 1)]
    amount: Amount


class StakeOut(Api):
    """A stake; its coins are held (``holdId``) until the pool resolves."""

    model_config = example(id=7, poolId="final-2026", userId="alice", outcome="red", amount=20, holdId="h_01")
    id: int
    pool_id: str
    user_id: str
    outcome: str
    amount: int
    hold_id: str | None


class StakeList(Api):
    """A page of the acting user's stakes, newest first."""

    model_config = example(stakes=[StakeOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    stakes: list[StakeOut]
    limit: int
    offset: int


class ResolveIn(Api):
    """The winning outcome."""

    model_config = example(outcome="red")
    outcome: Annotated[str, text(60, 1)]


class ResolutionOut(Api):
    """``payouts`` per user id; ``fee`` (house fee) and ``dust`` (flooring remainder) burned."""

    model_config = example(poolId="final-2026", outcome="red", pot=100, payouts={"alice": 97}, fee=3, dust=0,
                           txId="tx_04")
    pool_id: str
    outcome: str | None
    pot: int
    payouts: dict[str, int]
    fee: int
    dust: int
    tx_id: str | None


# -- belt challenges and tournaments ---------------------------------------------------------
class ChallengeIn(Api):
    """Challenge for a belt worth ``beltValue`` coins: the acting user pays the entry
    fee (10% of the belt's value, clamped to 50-500 by default), held until the result."""

    model_config = example(id="ch-1", beltValue=1200)
    id: Ident
    belt_value: Annotated[int, Field(strict=True, ge=0, le=MAX)]


class ChallengeResultIn(Api):
    """Who won: one of the two must be the challenger."""

    model_config = example(winnerUserId="alice", loserUserId="bob")
    winner_user_id: UserId
    loser_user_id: UserId


class ChallengeOut(Api):
    """A belt challenge. ``status`` open (the fee is held), settled or cancelled (the fee
    returned). ``winnerPayout``/``loserPayout``/``platformFee``: the split of the fee
    (70/20/10 by default; the platform gets the rounding)."""

    model_config = example(id="ch-1", challengerUserId="alice", beltValue=1200, entryFee=120, status="settled",
                           winnerUserId="alice", loserUserId="bob", winnerPayout=84, loserPayout=24, platformFee=12,
                           txId="tx_05", createdAt=T0, settledAt=T0)
    id: str
    challenger_user_id: str
    belt_value: int
    entry_fee: int
    status: str
    winner_user_id: str | None
    loser_user_id: str | None
    winner_payout: int
    loser_payout: int
    platform_fee: int
    tx_id: str | None
    created_at: datetime
    settled_at: datetime | None


class TournamentIn(Api):
    """Create a tournament (the acting user pays the creation cost, 2,000 COIN by
    default). ``prizeBps``: each place's share of the entry fees, first place first
    (default: the winner takes all); what no place takes goes to the platform."""

    model_config = example(id="spring-cup", title="Spring cup", entryFee=100, prizeBps=[6000, 3000, 1000])
    id: Ident
    title: Annotated[str, text(200, 1)]
    entry_fee: Annotated[int, Field(strict=True, ge=0, le=MAX)]
    prize_bps: Annotated[list[Annotated[int, Field(strict=True, gt=0, le=10_000)]],
                         Field(min_length=1, max_length=20)] = [10_000]


class TournamentOut(Api):
    """A tournament: ``status`` open (taking entries), paid or cancelled (entries
    returned); ``entrants`` so far; ``placements``: who was paid, first place first."""

    model_config = example(id="spring-cup", title="Spring cup", creatorUserId="carol", entryFee=100,
                           prizeBps=[6000, 3000, 1000], status="open", entrants=12, pot=1200, placements=None,
                           prizes=None, createdAt=T0, settledAt=None)
    id: str
    title: str
    creator_user_id: str
    entry_fee: int
    prize_bps: list[int]
    status: str
    entrants: int
    pot: int
    placements: list[str] | None
    prizes: list[int] | None
    created_at: datetime
    settled_at: datetime | None


class TournamentEntryOut(Api):
    """The acting user's entry; its fee is held until the payout."""

    model_config = example(tournamentId="spring-cup", userId="alice", entryFee=100, createdAt=T0)
    tournament_id: str
    user_id: str
    entry_fee: int
    created_at: datetime


class PayoutIn(Api):
    """The places, first place first: one per prize (or every entrant if fewer)."""

    model_config = example(placements=["alice", "bob", "dave"])
    placements: Annotated[list[UserId], Field(min_length=1, max_length=20)]


# -- brand coins and market ------------------------------------------------------------------
class BrandCoinIn(Api):
    """Launch a brand coin whose seller is the acting user; prices in COIN per coin."""

    model_config = example(symbol="HEATHER", name="Heather's Bakery", initialPrice=10, maxSupply=1_000_000,
                           allocation=100_000)
    symbol: Annotated[str, Field(pattern=SYMBOL), Upper]
    name: Annotated[str, text(100, 1)]
    initial_price: Amount
    max_supply: Amount | None = None
    allocation: Annotated[int, Field(strict=True, ge=0, le=MAX)] | None = None


class BrandCoinOut(Api):
    """``price``: last trade price (the launch price before any trade), COIN per coin;
    ``circulating``: issued minus burned; ``marketCap`` = price * circulating."""

    model_config = example(symbol="HEATHER", name="Heather's Bakery", sellerUserId="heather", maxSupply=1_000_000,
                           initialPrice=10, launchedAt=T0, price=12, circulating=150_000, marketCap=1_800_000)
    symbol: str
    name: str
    seller_user_id: str | None
    max_supply: int
    initial_price: int
    launched_at: datetime
    price: int
    circulating: int
    market_cap: int


class CoinList(Api):
    """A page of brand coins, by symbol."""

    model_config = example(coins=[BrandCoinOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    coins: list[BrandCoinOut]
    limit: int
    offset: int


class UsdIn(Api):
    """A purchase of ``usdCents`` at the seller's shop."""

    model_config = example(usdCents=2500)
    usd_cents: Amount


class QuantityIn(Api):
    """How many coins."""

    model_config = example(quantity=10)
    quantity: Amount


class CoinMoveOut(Api):
    """Coins earned or redeemed; ``value``: a redemption's COIN value; ``balance``: the
    user's balance of the coin after it."""

    model_config = example(symbol="HEATHER", quantity=10, value=120, balance=40)
    symbol: str
    quantity: int
    value: int | None = None
    balance: int


class OrderIn(Api):
    """``type`` limit or market; a market order's ``price`` is its protection price
    (optional). ``tif`` GTC, GTD (with ``expiresAt``), IOC or FOK. Enumerations are
    accepted in any case."""

    model_config = example(side="buy", quantity=5, price=12, type="limit", tif="GTC", postOnly=False, expiresAt=None)
    side: Annotated[Literal["buy", "sell"], Lower]
    quantity: Amount
    price: Amount | None = None
    type: Annotated[Literal["limit", "market"], Lower] = "limit"
    tif: Annotated[Literal["GTC", "GTD", "IOC", "FOK"], Upper] = "GTC"
    post_only: bool = False
    expires_at: datetime | None = None


class OrderOut(Api):
    """An order as it stands: ``status`` open, filled, cancelled, expired or queued
    (``reason`` says why it stopped, e.g. unfilled, self_trade). A refused order is a
    problem response, not an order."""

    model_config = example(id=31, symbol="HEATHER", userId="alice", side="buy", kind="limit", price=12, quantity=5,
                           remaining=2, filled=3, tif="GTC", postOnly=False, expiresAt=None, status="open",
                           reason=None, createdAt=T0)
    id: int
    symbol: str
    user_id: str | None
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
    """A page of the acting user's orders, newest first."""

    model_config = example(orders=[OrderOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    orders: list[OrderOut]
    limit: int
    offset: int


class LevelOut(Api):
    """One price level: ``quantity`` resting in ``orders`` orders."""

    model_config = example(price=12, quantity=40, orders=3)
    price: int
    quantity: int
    orders: int


class BookOut(Api):
    """The book's best levels. ``sequence``: the market feed's number this snapshot is
    at: apply the feed's events numbered after it."""

    model_config = example(symbol="HEATHER", bids=[{"price": 11, "quantity": 40, "orders": 3}],
                           asks=[{"price": 12, "quantity": 10, "orders": 1}], lastPrice=12, sequence=1041)
    symbol: str
    bids: list[LevelOut]
    asks: list[LevelOut]
    last_price: int
    sequence: int


class TradeOut(Api):
    """One trade: ``price`` COIN per coin, ``quote`` = price * quantity; fees in COIN.
    ``buyerUserId``/``sellerUserId`` are null for the platform's own orders."""

    model_config = example(id=9, symbol="HEATHER", time=T0, price=12, quantity=3, quote=36, buyerUserId="alice",
                           sellerUserId="bob", takerSide="buy", makerOrderId=30, takerOrderId=31, buyerFee=0,
                           sellerFee=1)
    id: int
    symbol: str
    time: datetime
    price: int
    quantity: int
    quote: int
    buyer_user_id: str | None
    seller_user_id: str | None
    taker_side: str
    maker_order_id: int | None
    taker_order_id: int | None
    buyer_fee: int
    seller_fee: int


class TradeList(Api):
    """A page of the coin's trades, newest first."""

    model_config = example(trades=[TradeOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=50, offset=0)
    trades: list[TradeOut]
    limit: int
    offset: int


class TickerOut(Api):
    """The rolling 24 hours of one coin: ``last`` price, ``change`` from the last price
    before the window (``changeBps`` in basis points), ``high``/``low``, ``volume``
    (coins) and ``quoteVolume`` (COIN). Prices are null if the coin never traded."""

    model_config = example(symbol="HEATHER", last=12, change=2, changeBps=2000, high=13, low=10, volume=420,
                           quoteVolume=4900, trades=37, at=T0)
    symbol: str
    last: int | None
    change: int
    change_bps: int
    high: int | None
    low: int | None
    volume: int
    quote_volume: int
    trades: int
    at: datetime


class CandleOut(Api):
    """One OHLCV candle starting at ``start`` (UTC-aligned)."""

    model_config = example(start=T0, open=11, high=13, low=10, close=12, volume=42, quoteVolume=490, trades=6)
    start: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int


class CandleList(Api):
    """Gapless candles, oldest first: an empty interval carries the last close with volume 0."""

    model_config = example(symbol="HEATHER", interval="1h",
                           candles=[CandleOut.model_config["json_schema_extra"]["examples"][0]])  # type: ignore[index]
    symbol: str
    interval: str
    candles: list[CandleOut]


class PositionOut(Api):
    """COIN figures: ``cost`` basis of what is held, ``marketValue`` at ``price``,
    ``unrealized`` and ``realized`` P&L (net of fees)."""

    model_config = example(symbol="HEATHER", quantity=30, cost=330, price=12, marketValue=360, unrealized=30,
                           realized=5)
    symbol: str
    quantity: int
    cost: int
    price: int
    market_value: int
    unrealized: int
    realized: int


class PortfolioOut(Api):
    """The acting user's brand-coin positions."""

    model_config = example(userId="alice",
                           positions=[PositionOut.model_config["json_schema_extra"]["examples"][0]])  # type: ignore[index]
    user_id: str
    positions: list[PositionOut]


class RankedOut(Api):
    """One row of a leaderboard: ``key`` is a coin's symbol."""

    model_config = example(rank=1, key="HEATHER", value=1_800_000)
    rank: int
    key: str
    value: int


class LeaderboardsOut(Api):
    """Coins by market cap, 24h volume, and 24h gain and loss (basis points)."""

    model_config = example(marketCap=[{"rank": 1, "key": "HEATHER", "value": 1_800_000}],
                           volume24h=[{"rank": 1, "key": "HEATHER", "value": 420}],
                           gainers=[{"rank": 1, "key": "HEATHER", "value": 2000}], losers=[])
    market_cap: list[RankedOut]
    volume24h: list[RankedOut] = Field(alias="volume24h")
    gainers: list[RankedOut]
    losers: list[RankedOut]


# -- admin ------------------------------------------------------------------------------------
class PackageIn(Api):
    """A new coin package (``baseCoins`` defaults to the price at the base rate)."""

    model_config = example(id="mega", name="Mega", priceCents=19999, bonusCoins=4000, baseCoins=None,
                           displayOrder=6)
    id: Ident
    name: Annotated[str, text(40, 1)]
    price_cents: Amount
    bonus_coins: Annotated[int, Field(strict=True, ge=0, le=MAX)] = 0
    base_coins: Amount | None = None
    display_order: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None


class PackagePatch(Api):
    """The fields of a package to change; the rest stay as they are."""

    model_config = example(priceCents=899, active=True)
    name: Annotated[str, text(40, 1)] | None = None
    price_cents: Amount | None = None
    base_coins: Amount | None = None
    bonus_coins: Annotated[int, Field(strict=True, ge=0, le=MAX)] | None = None
    display_order: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None
    active: bool | None = None


class GrantIn(Api):
    """``amount`` > 0 credits the user (minted), < 0 debits."""

    model_config = example(userId="alice", amount=100, reason="support ticket 1234")
    user_id: UserId
    amount: SignedAmount
    reason: Annotated[str, text(200)] = ""


class TransactionOut(Api):
    """One journal row. Each side is named like everywhere else: ``fromType``/``toType``
    (user, mint, burn, escrow, platform, pool, ...) and the user id when it is a user
    (the CSV export keeps the ledger's own account addresses)."""

    model_config = example(id=42, txId="tx_01", time=T0, type="ADMIN_GRANT", asset="COIN", amount=100,
                           fromType="mint", fromUserId=None, toType="user", toUserId="alice", refType="admin",
                           refId="k_1", note="support ticket 1234")
    id: int
    tx_id: str
    time: datetime
    type: str
    asset: str
    amount: int
    from_type: str
    from_user_id: str | None
    to_type: str
    to_user_id: str | None
    ref_type: str | None
    ref_id: str | None
    note: str | None


class TransactionList(Api):
    """A page of journal rows, newest first."""

    model_config = example(items=[TransactionOut.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
                           limit=100, offset=0)
    items: list[TransactionOut]
    limit: int
    offset: int


class MetricsOut(Api):
    """COIN: ``issued``/``burned`` all time and ``circulating`` = issued - burned;
    ``issuedToday``/``burnedToday`` (UTC day, net); ``revenueCents`` all time and
    today (USD cents journalled to the platform's revenue); ``users`` with an account."""

    model_config = example(issued=1_000_000, burned=20_000, circulating=980_000, issuedToday=5000, burnedToday=120,
                           revenueCents=499_900, revenueTodayCents=9990, users=3120)
    issued: int
    burned: int
    circulating: int
    issued_today: int
    burned_today: int
    revenue_cents: int
    revenue_today_cents: int
    users: int


class HealthOut(Api):
    """``payments``: ``configured``, or ``not configured`` (no Stripe key or webhook
    secret: checkouts and webhooks cannot work)."""

    model_config = example(status="ok", database="ok", market="on", payments="configured")
    status: str
    database: str
    market: str
    payments: str
