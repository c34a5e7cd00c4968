"""The trade record: what matching (or the bonding curve) produces and what market data
(tape, candles, stats, portfolios, detector) consumes."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

__all__ = ["Trade"]


class Trade(NamedTuple):
    """One fill. ``price`` is COIN per whole brand coin (integer ticks); ``quote`` is the
    exact COIN amount that changed hands before fees (= price * quantity)."""

    id: int
    symbol: str
    time: datetime
    price: int
    quantity: int
    quote: int
    buyer: str  # account address, e.g. "user:alice"
    seller: str
    taker_side: str  # "buy" or "sell"
    maker_order_id: int | None = None
    taker_order_id: int | None = None
    buyer_fee: int = 0  # COIN
    seller_fee: int = 0  # COIN
