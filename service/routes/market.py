"""Brand coins, their order books and market data, portfolios and leaderboards.
Every route needs the market (one worker: see service.market_state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ledger import BURN, MINT, user_account
from market.book import Order
from market.candles import INTERVALS, build_candles
from market.coins import BrandCoin
from market.portfolio import Movement, portfolio
from market.stats import by_market_cap, by_volume, top_gainers, top_losers

from ..deps import Caller, IdemKey, Market, ReadUser, ServerUser, StateDep, WriteUser
from ..market_state import order_dict
from ..problems import ApiError, error_responses
from ..schemas import (
    BookOut,
    BrandCoinIn,
    BrandCoinOut,
    CandleList,
    CandleOut,
    CoinList,
    CoinMoveOut,
    LeaderboardsOut,
    LevelOut,
    OrderIn,
    OrderList,
    OrderOut,
    PortfolioOut,
    PositionOut,
    QuantityIn,
    RankedOut,
    TradeList,
    TradeOut,
    UsdIn,
)

__all__ = ["router"]

router = APIRouter(tags=["market"], responses=error_responses(400, 401, 403, 404, 409, 422, 503))
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
# ledger entry types of a brand coin that are not trades, as portfolio movements
_MOVES = {"EARNED": "earn", "AIRDROP": "airdrop", "VESTING": "vesting", "LAUNCH": "grant",
          "REDEEM_BURN": "redeem", "TRANSFER": None}


def _coin_out(m: Market, coin: BrandCoin) -> BrandCoinOut:
    price = m.exchange.last_price(coin.symbol)
    circulating = -m.ledger.balance(MINT, coin.symbol) - m.ledger.balance(BURN, coin.symbol)
    return BrandCoinOut(symbol=coin.symbol, name=coin.name, seller=coin.seller, max_supply=coin.max_supply,
                        initial_price=coin.initial_price, launched_at=coin.launched_at, price=price,
                        circulating=circulating, market_cap=price * circulating)


def _coin(m: Market, symbol: str) -> BrandCoin:
    coin = m.exchange.coins.get(symbol)
    if coin is None:
        raise ApiError(404, "not_found", f"no brand coin {symbol!r}", symbol=symbol)
    return coin


def _order_out(o: Order) -> OrderOut:
    d = order_dict(o)
    d.pop("hold_id"), d.pop("locked")
    return OrderOut.model_validate(d)


# -- brand coins --------------------------------------------------------------------------
@router.post("/api/brand-coins", response_model=BrandCoinOut)
def launch(body: BrandCoinIn, m: Market, user: WriteUser) -> BrandCoinOut:
    """Launch a coin whose seller is the acting user."""
    coin = m.launch(body.symbol, body.name, user_account(user), initial_price=body.initial_price,
                    max_supply=body.max_supply, allocation=body.allocation)
    return _coin_out(m, coin)


@router.get("/api/brand-coins", response_model=CoinList)
def list_coins(m: Market, _: Caller, limit: Limit = 50, offset: Offset = 0) -> CoinList:
    with m.lock:
        coins = sorted(m.exchange.coins.values(), key=lambda c: c.symbol)[offset:offset + limit]
        return CoinList(coins=[_coin_out(m, c) for c in coins], limit=limit, offset=offset)


@router.get("/api/brand-coins/{symbol}", response_model=BrandCoinOut)
def get_coin(symbol: str, m: Market, _: Caller) -> BrandCoinOut:
    with m.lock:
        return _coin_out(m, _coin(m, symbol))


@router.post("/api/brand-coins/{symbol}/earn", response_model=CoinMoveOut)
def earn(symbol: str, body: UsdIn, m: Market, user: ServerUser, idem: IdemKey) -> CoinMoveOut:
    """The acting user spent ``usd_cents`` at the seller's shop: they earn coins."""
    _coin(m, symbol)
    qty = m.run(symbol, lambda ex: ex.earn(symbol, user_account(user), body.usd_cents, key=idem))
    return CoinMoveOut(symbol=symbol, quantity=qty, balance=m.ledger.balance(user_account(user), symbol))


@router.post("/api/brand-coins/{symbol}/redeem", response_model=CoinMoveOut)
def redeem(symbol: str, body: QuantityIn, m: Market, user: WriteUser, idem: IdemKey) -> CoinMoveOut:
    _coin(m, symbol)
    value = m.run(symbol, lambda ex: ex.redeem(symbol, user_account(user), body.quantity, key=idem))
    return CoinMoveOut(symbol=symbol, quantity=body.quantity, value=value,
                       balance=m.ledger.balance(user_account(user), symbol))


# -- orders --------------------------------------------------------------------------------
@router.post("/api/market/{symbol}/orders", response_model=OrderOut)
async def place_order(symbol: str, body: OrderIn, m: Market, state: StateDep, user: WriteUser) -> OrderOut:
    """The order as it stands after matching: ``status`` open, filled, cancelled or
    rejected (``reason`` says why, e.g. insufficient_funds, price_band, rate_limit)."""
    _coin(m, symbol)
    if body.type == "limit" and body.price is None:
        raise ApiError(400, "order_error", "a limit order needs a price")
    account = user_account(user)
    order = await state.write(lambda: m.submit(
        symbol, account=account, side=body.side, quantity=body.quantity, price=body.price,
        tif=body.tif, post_only=body.post_only, expires_at=body.expires_at, market=body.type == "market"),
        rows=lambda: m.order_rows(symbol, account, body.side, body.quantity, body.price))
    return _order_out(order)


@router.get("/api/market/orders", response_model=OrderList)
def my_orders(m: Market, user: ReadUser, limit: Limit = 50, offset: Offset = 0) -> OrderList:
    rows = m.orders(user_account(user), limit=limit, offset=offset)
    return OrderList(orders=[OrderOut.model_validate(r) for r in rows], limit=limit, offset=offset)


@router.delete("/api/market/orders/{order_id}", response_model=OrderOut)
def cancel_order(order_id: int, m: Market, user: WriteUser) -> OrderOut:
    with m.lock:
        order = m.exchange.live.get(order_id)
        if order is None:
            raise ApiError(404, "not_found", f"no open order {order_id}", order_id=order_id)
        if order.account != user_account(user):
            raise ApiError(403, "forbidden", f"order {order_id} is not {user}'s", order_id=order_id)
    # not under the lock: the sequencer takes it to run the cancel (which checks again)
    return _order_out(m.cancel(order_id, user_account(user)))


# -- market data ----------------------------------------------------------------------------
@router.get("/api/market/{symbol}/book", response_model=BookOut)
def book(symbol: str, m: Market, _: Caller, depth: Annotated[int, Query(ge=1, le=100)] = 10) -> BookOut:
    with m.lock:
        _coin(m, symbol)
        b = m.exchange.book(symbol)
        return BookOut(symbol=symbol, bids=[LevelOut(**lv._asdict()) for lv in b.depth("buy", depth)],
                       asks=[LevelOut(**lv._asdict()) for lv in b.depth("sell", depth)],
                       last_price=m.exchange.last_price(symbol))


@router.get("/api/market/{symbol}/trades", response_model=TradeList)
def trades(symbol: str, m: Market, _: Caller, limit: Limit = 50, offset: Offset = 0) -> TradeList:
    _coin(m, symbol)
    rows = m.trades(symbol, limit=limit, offset=offset)
    return TradeList(trades=[TradeOut.model_validate(t._asdict()) for t in rows], limit=limit, offset=offset)


@router.get("/api/market/{symbol}/candles", response_model=CandleList)
def candles(symbol: str, m: Market, _: Caller, interval: Literal["1m", "5m", "1h", "1d"] = "1h",
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> CandleList:
    """The last ``limit`` candles up to now (gapless: an empty interval carries the last close)."""
    _coin(m, symbol)
    end = datetime.now(UTC)
    start = end - INTERVALS[interval] * (limit - 1)
    since = start - timedelta(days=30)  # enough history to carry a close into the window
    tape = [t for t in m.trades(symbol, newest_first=False) if t.time >= since]
    bars = build_candles(tape, symbol, interval, start, end + timedelta(microseconds=1))
    return CandleList(symbol=symbol, interval=interval, candles=[CandleOut(
        start=c.start, open=c.open, high=c.high, low=c.low, close=c.close, volume=c.volume,
        quote_volume=c.quote_volume, trades=c.trades) for c in bars][-limit:])


@router.get("/api/portfolio", response_model=PortfolioOut)
def get_portfolio(state: StateDep, m: Market, user: ReadUser) -> PortfolioOut:
    account = user_account(user)
    movements = []
    for item in state.ledger.history(account, limit=5000):
        if item.asset in ("COIN", "USD") or item.entry_type not in _MOVES:
            continue
        kind = _MOVES[item.entry_type] or ("transfer_in" if item.amount > 0 else "transfer_out")
        movements.append(Movement(item.time, account, item.asset, kind, abs(item.amount)))
    prices = {s: m.exchange.last_price(s) for s in list(m.exchange.coins)}
    rows = portfolio(account, m.trades(), movements, prices)
    return PortfolioOut(user_id=user, positions=[PositionOut(
        symbol=v.position.symbol, quantity=v.position.quantity, cost=v.position.cost, price=v.price,
        market_value=v.market_value, unrealized=v.unrealized, realized=v.position.realized) for v in rows])


@router.get("/api/leaderboards", response_model=LeaderboardsOut)
def leaderboards(m: Market, _: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> LeaderboardsOut:
    now = datetime.now(UTC)
    tape = [t for t in m.trades(newest_first=False) if t.time > now - timedelta(days=2)]
    prices = {s: m.exchange.last_price(s) for s in list(m.exchange.coins)}

    def out(rows: list) -> list[RankedOut]:
        return [RankedOut(rank=r.rank, key=r.key, value=r.value) for r in rows]

    return LeaderboardsOut(market_cap=out(by_market_cap(m.ledger, prices, limit)),
                           volume24h=out(by_volume(tape, now, limit)),
                           gainers=out(top_gainers(tape, now, limit)), losers=out(top_losers(tape, now, limit)))
