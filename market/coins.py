"""Brand coins: launch, vesting of the seller's allocation, earning on purchase, redeeming
at the shop, transfers and airdrops. Every movement is a ledger transaction with its
entry type (LAUNCH, VESTING, EARNED, REDEEM_BURN, TRANSFER, AIRDROP).

A coin is a ledger asset named by its symbol (scale 0: whole coins). Issuance comes
from the mint and never exceeds ``max_supply`` (issued counts burned coins too, so a
redeemed coin is not re-issued).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger import BURN, MINT, EntryType, InvalidRequest, Ledger, Posting, TransferRequest

__all__ = [
    "BrandCoin",
    "CoinError",
    "airdrop",
    "earn",
    "launch",
    "redeem",
    "release_vested",
    "transfer",
    "vested_amount",
    "vesting_account",
]

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")


class CoinError(InvalidRequest):
    """A brand-coin request that cannot be done; nothing was changed."""

    code = "coin_error"


def vesting_account(symbol: str) -> str:
    return f"vesting:{symbol}"


@dataclass
class BrandCoin:
    """A launched brand coin.

    symbol: the ledger asset (``HEATHER``).  name: display name.  seller: the shop's
    account.  max_supply: coins that may ever be issued.  initial_price: launch price in
    COIN per coin.  allocation: coins issued to the seller at launch (vested if
    ``vesting_days``).  released: how much of the allocation has vested so far.
    cliff_days / vesting_days: nothing vests before the cliff; then linear from launch
    to ``vesting_days`` (0 = no vesting).  floor_price: the platform's buy-back price,
    if the price floor is on."""

    symbol: str
    name: str
    seller: str
    max_supply: int
    initial_price: int
    launched_at: datetime
    allocation: int = 0
    released: int = 0
    cliff_days: int = 0
    vesting_days: int = 0
    floor_price: int | None = None

    @property
    def vests(self) -> bool:
        return self.vesting_days > 0 and self.allocation > 0


def launch(ledger: Ledger, symbol: str, name: str, seller: str, *, max_supply: int,
           initial_price: int, allocation: int, now: datetime, cliff_days: int = 0,
           vesting_days: int = 0) -> BrandCoin:
    """Create the asset and issue the seller's allocation (to ``vesting:<SYMBOL>`` when it
    vests, else to the seller) as one LAUNCH transaction."""
    if type(symbol) is not str or not SYMBOL_RE.match(symbol) or symbol in ("COIN", "USD"):
        raise CoinError(f"coin symbol must be 2-16 upper-case letters/digits, not COIN or USD; got {symbol!r}")
    if symbol in ledger.store.assets():
        raise CoinError(f"symbol {symbol!r} is already taken")
    for label, value, low in (("max_supply", max_supply, 1), ("initial_price", initial_price, 1),
                              ("allocation", allocation, 0), ("cliff_days", cliff_days, 0),
                              ("vesting_days", vesting_days, 0)):
        if type(value) is not int or value < low:
            raise CoinError(f"{label} must be an integer >= {low}, got {value!r}")
    if allocation > max_supply:
        raise CoinError(f"allocation {allocation} exceeds max supply {max_supply}")
    if not isinstance(name, str) or not name.strip():
        raise CoinError("a coin needs a name")
    ledger.open_account(seller)  # validates the address before anything is created
    ledger.create_asset(symbol, 0, name)
    coin = BrandCoin(symbol, name, seller, max_supply, initial_price, now, allocation, 0,
                     cliff_days if vesting_days else 0, vesting_days)
    if allocation:
        to = vesting_account(symbol) if coin.vests else seller
        ledger.post(TransferRequest((Posting(MINT, to, symbol, allocation),), EntryType.LAUNCH,
                                    f"launch:{symbol}", "coin", symbol,
                                    {"name": name, "seller": seller, "max_supply": max_supply,
                                     "initial_price": initial_price, "vesting_days": vesting_days}))
        if not coin.vests:
            coin.released = allocation
    return coin


def vested_amount(coin: BrandCoin, now: datetime) -> int:
    """How much of the allocation has vested by ``now`` (floored)."""
    if not coin.vests:
        return coin.allocation
    elapsed = now - coin.launched_at
    if elapsed < timedelta(days=coin.cliff_days):
        return 0
    total = timedelta(days=coin.vesting_days)
    if elapsed >= total:
        return coin.allocation
    return coin.allocation * int(elapsed.total_seconds()) // int(total.total_seconds())


def release_vested(ledger: Ledger, coin: BrandCoin, now: datetime) -> int:
    """Move newly vested coins to the seller (VESTING); returns how many."""
    due = vested_amount(coin, now) - coin.released
    if due <= 0:
        return 0
    ledger.post(TransferRequest((Posting(vesting_account(coin.symbol), coin.seller, coin.symbol, due),),
                                EntryType.VESTING, f"vest:{coin.symbol}:{coin.released + due}", "coin",
                                coin.symbol, {"vested_total": coin.released + due}))
    coin.released += due
    return due


def _issuable(ledger: Ledger, coin: BrandCoin) -> int:
    return coin.max_supply - ledger.supply(coin.symbol).issued


def earn(ledger: Ledger, coin: BrandCoin, customer: str, usd_cents: int, *, coins_per_usd: int = 1,
         source: str = "mint", key: str | None = None, ref_id: str | None = None) -> int:
    """A customer spent ``usd_cents`` at the seller's shop: credit
    ``usd_cents * coins_per_usd // 100`` coins (EARNED), newly minted within max supply or
    paid from the seller's balance. Returns the coins credited (0 for a tiny purchase)."""
    if type(usd_cents) is not int or usd_cents <= 0:
        raise CoinError(f"usd_cents must be a positive integer, got {usd_cents!r}")
    coins = usd_cents * coins_per_usd // 100
    if coins == 0:
        return 0
    if source == "mint":
        room = _issuable(ledger, coin)
        if coins > room:
            raise CoinError(f"earning {coins} {coin.symbol} would pass max supply ({room} left)",
                            symbol=coin.symbol, available=room)
        frm = MINT
    else:
        frm = coin.seller
    ledger.post(TransferRequest((Posting(frm, customer, coin.symbol, coins),), EntryType.EARNED, key,
                                "shop_purchase", ref_id, {"usd_cents": usd_cents, "shop": coin.seller}))
    return coins


def redeem(ledger: Ledger, coin: BrandCoin, user: str, qty: int, price: int, *,
           key: str | None = None, ref_id: str | None = None) -> int:
    """Spend ``qty`` coins at the seller's shop: they are burned (REDEEM_BURN) and the
    discount's value at the current ``price`` is recorded in the metadata (COIN, and USD
    cents at 100 COIN = 1 USD). Returns that value in COIN."""
    if type(qty) is not int or qty <= 0:
        raise CoinError(f"quantity must be a positive integer, got {qty!r}")
    value = price * qty
    ledger.post(TransferRequest((Posting(user, BURN, coin.symbol, qty),), EntryType.REDEEM_BURN, key,
                                "shop_redeem", ref_id,
                                {"price": price, "value_coin": value, "value_usd_cents": value,
                                 "shop": coin.seller}))
    return value


def transfer(ledger: Ledger, coin: BrandCoin, frm: str, to: str, qty: int, *, key: str | None = None) -> None:
    """Send coins between users (TRANSFER)."""
    if type(qty) is not int or qty <= 0:
        raise CoinError(f"quantity must be a positive integer, got {qty!r}")
    ledger.post(TransferRequest((Posting(frm, to, coin.symbol, qty),), EntryType.TRANSFER, key, "coin", coin.symbol))


def airdrop(ledger: Ledger, coin: BrandCoin, recipients: list[str], qty_each: int, *,
            source: str | None = None, key: str | None = None) -> int:
    """Give ``qty_each`` coins to every recipient in one atomic AIRDROP transaction, newly
    minted (within max supply) or from ``source``'s balance. Returns the total."""
    if type(qty_each) is not int or qty_each <= 0:
        raise CoinError(f"quantity must be a positive integer, got {qty_each!r}")
    if not recipients or len(set(recipients)) != len(recipients):
        raise CoinError("an airdrop needs distinct recipients")
    total = qty_each * len(recipients)
    frm = source or MINT
    if frm == MINT:
        room = _issuable(ledger, coin)
        if total > room:
            raise CoinError(f"airdrop of {total} {coin.symbol} would pass max supply ({room} left)",
                            symbol=coin.symbol, available=room)
    legs = tuple(Posting(frm, r, coin.symbol, qty_each) for r in recipients)
    ledger.post(TransferRequest(legs, EntryType.AIRDROP, key, "coin", coin.symbol, {"each": qty_each}))
    return total
