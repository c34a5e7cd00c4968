"""Settlement: how an order book's events become ledger transactions.

One ledger call per event:
  * an order comes to rest     -> a hold lock (what ``Ledger.lock`` posts),
  * a fill                     -> a capture of the resting order's hold (what
                                  ``Ledger.capture(hold, legs, settle=last)`` posts), with
                                  the incoming order's own legs in the same transaction,
  * a cancel / expiry          -> a void (what ``Ledger.void`` posts): the rest comes back.
The requests are built here and handed to the store as ``Ledger.post`` would: the order
already knows its hold (id, amount), so nothing needs reading back from the store.

Rounding rule (quote and fees)
------------------------------
Prices are integer COIN per whole brand coin and brand coins have scale 0, so a fill's
quote is exact: ``quote = price * quantity``. Each fee is floored per fill:
``fee = quote * bps // 10000``, paid in COIN by that side (the buyer on top of the
quote, the seller out of its proceeds) to the revenue account or the burn account.
The fraction a floor leaves out is simply not charged: it stays with the payer, so
nothing is created or destroyed by rounding.

A resting buy locks ``price * remaining + fee(price * remaining, maker)``. Because
``floor(a) + floor(b) <= floor(a + b)``, its partial fills (each at its own price, with
floored fees) never take more than that lock; what is left when the order completes
(the summed-floor slack) goes back to the buyer in the final fill's transaction. A
resting sell locks exactly its remaining coins.

Legs of a fill (``E`` = escrow, ``F`` = fee destination):
  resting sell:  E->buyer coins q | buyer->seller COIN quote | seller->F maker fee |
                 buyer->F taker fee
  resting buy:   seller->buyer coins q | E->seller COIN quote | E->F maker fee |
                 seller->F taker fee | E->buyer slack (last fill only)
"""

from __future__ import annotations

from ledger import BURN, ESCROW, EntryType, HoldAction, Ledger, Posting, TransferRequest

from .book import BUY, Order
from .config import MarketConfig

__all__ = ["Settlement", "fee"]

# Requests are built with tuple.__new__, as Ledger.transfer does: the NamedTuples'
# generated constructors (argument binding, defaults) cost more than the tuples
# themselves, and settlement builds several per order.
_new = tuple.__new__

_TRADE = EntryType.TRADE.value
_FEE = EntryType.FEE.value
_FEE_BURN = EntryType.FEE_BURN.value
_BUYBACK = EntryType.BUYBACK.value
_RETURN = EntryType.HOLD_RETURN.value
_LOCK = EntryType.HOLD_LOCK.value


def fee(quote: int, bps: int) -> int:
    """The fee on ``quote`` COIN at ``bps`` basis points, floored."""
    return quote * bps // 10000


class Settlement:
    """Moves the money of one coin's book through the ledger."""

    __slots__ = ("ledger", "symbol", "maker_bps", "taker_bps", "fee_account", "fee_type", "platform", "new_id",
                 "apply")

    def __init__(self, ledger: Ledger, symbol: str, config: MarketConfig, platform: frozenset[str] = frozenset()) -> None:
        self.ledger = ledger
        self.symbol = symbol
        self.maker_bps = config.maker_fee_bps
        self.taker_bps = config.taker_fee_bps
        burn = config.fee_destination == "burn"
        self.fee_account = BURN if burn else config.revenue_account
        self.fee_type = _FEE_BURN if burn else _FEE
        self.platform = platform  # accounts whose trades are journalled as BUYBACK
        self.new_id = ledger.store.new_id
        # what Ledger.post does (store.apply at the ledger's clock), one call less per event
        self.apply = ledger.store.apply

    def buy_lock(self, price: int, quantity: int) -> int:
        """COIN a resting buy of ``quantity`` at ``price`` must lock."""
        quote = price * quantity
        return quote + quote * self.maker_bps // 10000

    def lock(self, order: Order) -> None:
        """Lock what a resting order may pay; sets ``order.hold_id`` and ``order.locked``."""
        if order.side == BUY:
            quote = order.price * order.remaining
            amount, asset = quote + quote * self.maker_bps // 10000, "COIN"
        else:
            amount, asset = order.remaining, self.symbol
        account = order.account
        hold_id = self.new_id("h")
        # no expiry on the hold even for GTD: the market expires the order and voids the
        # hold together, so Ledger.expire_holds can never strand a live order
        # what Ledger.lock does, without reading the new hold back: one store call
        self.apply(_new(TransferRequest, ((_new(Posting, (account, ESCROW, asset, amount, None)),), _LOCK, None,
                                          "order", str(order.id), None, None,
                                          _new(HoldAction, ("lock", hold_id, account, asset, amount, None)))),
                   self.ledger.clock())
        order.hold_id = hold_id
        order.locked = amount

    def release(self, order: Order) -> None:
        """Give a leaving order's whole hold back (cancel, expiry): Ledger.void, built
        from what the order knows of its hold."""
        if order.hold_id is not None:
            asset = "COIN" if order.side == BUY else self.symbol
            self.apply(_new(TransferRequest, ((_new(Posting, (ESCROW, order.account, asset, order.locked, None)),),
                                              _RETURN, None, "order", str(order.id), None, None,
                                              _new(HoldAction, ("void", order.hold_id, "", "", 0, None)))),
                       self.ledger.clock())
            order.hold_id = None
            order.locked = 0

    def shrink(self, order: Order, by: int) -> None:
        """Reduce a resting order by ``by`` coins without a trade (STP decrement) and hand
        back the part of its hold that no longer needs locking."""
        left = order.remaining - by
        if left <= 0:
            self.release(order)
            return
        keep = self.buy_lock(order.price, left) if order.side == BUY else left
        back = order.locked - keep
        hold_id = order.hold_id
        assert hold_id is not None, "only resting orders shrink"
        if back > 0:
            asset = "COIN" if order.side == BUY else self.symbol
            self.ledger.capture(hold_id, [Posting(ESCROW, order.account, asset, back, _RETURN)],
                                entry_type=_RETURN)
            order.locked = keep

    def fill(self, maker: Order, taker_account: str, price: int, qty: int) -> tuple[int, int]:
        """Settle ``qty`` coins at ``price`` between the resting ``maker`` and the incoming
        order's owner in one transaction. Returns ``(buyer_fee, seller_fee)``. Updates
        ``maker.locked``; the caller updates quantities. Raises a LedgerError (and
        changes nothing) if the taker cannot pay."""
        hold_id = maker.hold_id
        assert hold_id is not None, "a resting order has a hold"
        quote = price * qty
        maker_fee = quote * self.maker_bps // 10000
        taker_fee = quote * self.taker_bps // 10000
        sym = self.symbol
        fee_acct = self.fee_account
        fee_type = self.fee_type
        last = qty == maker.remaining
        kind = _BUYBACK if self.platform and (maker.account in self.platform or taker_account in self.platform) else _TRADE
        if maker.side == BUY:
            buyer = maker.account
            legs = [_new(Posting, (taker_account, buyer, sym, qty, kind)),
                    _new(Posting, (ESCROW, taker_account, "COIN", quote, kind))]
            taken = quote
            if maker_fee:
                legs.append(_new(Posting, (ESCROW, fee_acct, "COIN", maker_fee, fee_type)))
                taken += maker_fee
            if taker_fee:
                legs.append(_new(Posting, (taker_account, fee_acct, "COIN", taker_fee, fee_type)))
            if last and maker.locked > taken:
                legs.append(_new(Posting, (ESCROW, buyer, "COIN", maker.locked - taken, _RETURN)))
                taken = maker.locked
            fees = (maker_fee, taker_fee)
        else:
            legs = [_new(Posting, (ESCROW, taker_account, sym, qty, kind)),
                    _new(Posting, (taker_account, maker.account, "COIN", quote, kind))]
            if maker_fee:
                legs.append(_new(Posting, (maker.account, fee_acct, "COIN", maker_fee, fee_type)))
            if taker_fee:
                legs.append(_new(Posting, (taker_account, fee_acct, "COIN", taker_fee, fee_type)))
            taken = qty
            fees = (taker_fee, maker_fee)
        # Ledger.capture(maker.hold_id, legs, settle=last), posted directly: the order
        # already knows its hold, so the store is called once and nothing is read back
        self.apply(_new(TransferRequest, (tuple(legs), kind, None, "order", str(maker.id), None, None,
                                          _new(HoldAction, ("release" if last else "capture", hold_id, "", "", 0,
                                                            None)))),
                   self.ledger.clock())
        if last:
            maker.hold_id = None
            maker.locked = 0
        else:
            maker.locked -= taken
        return fees
