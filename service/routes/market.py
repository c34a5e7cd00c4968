"""Brand coins, their order books and market data, the live feed, portfolios and
leaderboards. Every route needs the market (one worker, or the market process the
workers forward to: see service.market_state and service.forward)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from ledger import BURN, MINT, user_account
from market.book import Order
from market.candles import INTERVALS, build_candles
from market.coins import BrandCoin
from market.portfolio import Movement, portfolio
from market.stats import by_market_cap, by_volume, stats_24h, top_gainers, top_losers

from ..deps import (
    Caller,
    IdemKey,
    Market,
    ReadUser,
    ServerUser,
    StateDep,
    SymbolPath,
    WriteUser,
    operation_id,
)
from ..market_state import MarketState, order_dict
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
    TickerOut,
    TradeList,
    TradeOut,
    UsdIn,
    canonical_lower,
    user_id_of,
)

__all__ = ["router"]

router = APIRouter(tags=["market"], generate_unique_id_function=operation_id)
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]
NO_COIN = error_responses(404)
# ledger entry types of a brand coin that are not trades, as portfolio movements
_MOVES = {"EARNED": "earn", "AIRDROP": "airdrop", "VESTING": "vesting", "LAUNCH": "grant",
          "REDEEM_BURN": "redeem", "TRANSFER": None}


def _coin_out(m: MarketState, coin: BrandCoin) -> BrandCoinOut:
    price = m.exchange.last_price(coin.symbol)
    circulating = -m.ledger.balance(MINT, coin.symbol) - m.ledger.balance(BURN, coin.symbol)
    return BrandCoinOut(symbol=coin.symbol, name=coin.name, seller_user_id=user_id_of(coin.seller),
                        max_supply=coin.max_supply, initial_price=coin.initial_price, launched_at=coin.launched_at,
                        price=price, circulating=circulating, market_cap=price * circulating)


def _coin(m: MarketState, symbol: str) -> BrandCoin:
    coin = m.exchange.coins.get(symbol)
    if coin is None:
        raise ApiError(404, "not_found", f"no brand coin {symbol!r}", symbol=symbol)
    return coin


def _order_out(o: Order | dict) -> OrderOut:
    d = order_dict(o) if isinstance(o, Order) else dict(o)
    for k in ("hold_id", "locked"):
        d.pop(k, None)
    d["user_id"] = user_id_of(d.pop("account"))
    return OrderOut.model_validate(d)


def _trade_out(t) -> TradeOut:
    d = t._asdict()
    d["buyer_user_id"], d["seller_user_id"] = user_id_of(d.pop("buyer")), user_id_of(d.pop("seller"))
    return TradeOut.model_validate(d)


# -- brand coins --------------------------------------------------------------------------
@router.post("/api/brand-coins", response_model=BrandCoinOut, responses=error_responses(400))
def launch_brand_coin(body: BrandCoinIn, m: Market, user: WriteUser) -> BrandCoinOut:
    """Launch a coin whose seller is the acting user (its allocation vests by the
    market's config). 400: the symbol is taken or the figures are not allowed."""
    coin = m.launch(body.symbol, body.name, user_account(user), initial_price=body.initial_price,
                    max_supply=body.max_supply, allocation=body.allocation)
    return _coin_out(m, coin)


@router.get("/api/brand-coins", response_model=CoinList)
def list_brand_coins(m: Market, _: Caller, limit: Limit = 50, offset: Offset = 0) -> CoinList:
    """Every brand coin, by symbol, with its price, circulating supply and market cap."""
    with m.lock:
        coins = sorted(m.exchange.coins.values(), key=lambda c: c.symbol)[offset:offset + limit]
        return CoinList(coins=[_coin_out(m, c) for c in coins], limit=limit, offset=offset)


@router.get("/api/brand-coins/{symbol}", response_model=BrandCoinOut, responses=NO_COIN)
def get_brand_coin(symbol: SymbolPath, m: Market, _: Caller) -> BrandCoinOut:
    """One brand coin."""
    with m.lock:
        return _coin_out(m, _coin(m, symbol))


@router.post("/api/brand-coins/{symbol}/earn", response_model=CoinMoveOut, responses=error_responses(400, 404))
def earn_brand_coin(symbol: SymbolPath, body: UsdIn, m: Market, user: ServerUser, idem: IdemKey) -> CoinMoveOut:
    """The acting user spent ``usdCents`` at the seller's shop: they earn coins (1 per
    USD by default). Server to server only."""
    _coin(m, symbol)
    qty = m.run(symbol, lambda ex: ex.earn(symbol, user_account(user), body.usd_cents, key=idem))
    return CoinMoveOut(symbol=symbol, quantity=qty, balance=m.ledger.balance(user_account(user), symbol))


@router.post("/api/brand-coins/{symbol}/redeem", response_model=CoinMoveOut,
             responses=error_responses(400, 404, 409))
def redeem_brand_coin(symbol: SymbolPath, body: QuantityIn, m: Market, user: WriteUser,
                      idem: IdemKey) -> CoinMoveOut:
    """Redeem coins at the seller's shop: they are burned; ``value`` is their COIN value
    at the current price. 409: the user holds fewer."""
    _coin(m, symbol)
    value = m.run(symbol, lambda ex: ex.redeem(symbol, user_account(user), body.quantity, key=idem))
    return CoinMoveOut(symbol=symbol, quantity=body.quantity, value=value,
                       balance=m.ledger.balance(user_account(user), symbol))


# -- orders --------------------------------------------------------------------------------
@router.post("/api/market/{symbol}/orders", response_model=OrderOut,
             responses=error_responses(400, 404, 409, 429))
async def place_order(symbol: SymbolPath, body: OrderIn, m: Market, state: StateDep, user: WriteUser) -> OrderOut:
    """Place an order; the answer is the order as it stands after matching (open,
    filled, cancelled with a ``reason``, or queued). An order the market refuses is a
    problem: 409 ``insufficient_funds`` (``required``, ``balance``), 409
    ``order_rejected`` (``reason``: price_band, circuit_breaker, daily_limit,
    holding_cap, min_hold, vesting, post_only_would_cross, fok_unfillable) or 429
    ``rate_limited``. 400: a limit order without a price, or a bad GTD expiry."""
    _coin(m, symbol)
    if body.type == "limit" and body.price is None:
        raise ApiError(400, "order_error", "a limit order needs a price")
    order = await state.place_order(symbol, user, side=body.side, quantity=body.quantity, price=body.price,
                                    tif=body.tif, post_only=body.post_only, expires_at=body.expires_at,
                                    market=body.type == "market")
    return _order_out(order)


@router.get("/api/market/orders", response_model=OrderList)
def list_my_orders(m: Market, user: ReadUser, limit: Limit = 50, offset: Offset = 0) -> OrderList:
    """The acting user's orders, newest first."""
    rows = m.orders(user_account(user), limit=limit, offset=offset)
    return OrderList(orders=[_order_out(r) for r in rows], limit=limit, offset=offset)


@router.delete("/api/market/orders/{order_id}", response_model=OrderOut, responses=error_responses(404))
def cancel_order(order_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="the order's id")], m: Market,
                 user: WriteUser) -> OrderOut:
    """Cancel one of the acting user's open orders (its held funds return). 404: no
    open order with that id; 403: another user's."""
    with m.lock:
        order = m.exchange.live.get(order_id)
        if order is None:
            raise ApiError(404, "not_found", f"no open order {order_id}", order_id=order_id)
        if order.account != user_account(user):
            raise ApiError(403, "forbidden", f"order {order_id} is not {user}'s", order_id=order_id)
    # not under the lock: the sequencer takes it to run the cancel (which checks again)
    return _order_out(m.cancel(order_id, user_account(user)))


# -- market data ----------------------------------------------------------------------------
@router.get("/api/market/{symbol}/book", response_model=BookOut, responses=NO_COIN)
def get_book(symbol: SymbolPath, m: Market, _: Caller,
             depth: Annotated[int, Query(ge=1, le=100, description="levels a side")] = 10) -> BookOut:
    """The best levels of the book, and the live feed's ``sequence`` it is at: the
    snapshot a feed client re-syncs from."""
    _coin(m, symbol)
    snap = m.snapshot(symbol, depth)
    return BookOut(symbol=symbol, bids=[LevelOut(**lv) for lv in snap["bids"]],
                   asks=[LevelOut(**lv) for lv in snap["asks"]], last_price=snap["last_price"],
                   sequence=snap["sequence"])


@router.get("/api/market/{symbol}/trades", response_model=TradeList, responses=NO_COIN)
def list_trades(symbol: SymbolPath, m: Market, _: Caller, limit: Limit = 50, offset: Offset = 0) -> TradeList:
    """The coin's trades, newest first."""
    _coin(m, symbol)
    rows = m.trades(symbol, limit=limit, offset=offset)
    return TradeList(trades=[_trade_out(t) for t in rows], limit=limit, offset=offset)


@router.get("/api/market/{symbol}/ticker", response_model=TickerOut, responses=NO_COIN)
def get_ticker(symbol: SymbolPath, m: Market, _: Caller) -> TickerOut:
    """The rolling 24 hours: last price, change (and in basis points) from the last
    price before the window, high, low, volume and quote volume, trade count."""
    _coin(m, symbol)
    now = datetime.now(UTC)
    s = stats_24h(m.recent_trades(symbol, now - timedelta(days=1)), symbol, now)
    return TickerOut(symbol=symbol, last=s.last, change=s.change, change_bps=s.change_bps, high=s.high, low=s.low,
                     volume=s.volume, quote_volume=s.quote_volume, trades=s.trades, at=now)


@router.get("/api/market/{symbol}/candles", response_model=CandleList, responses=NO_COIN)
def list_candles(symbol: SymbolPath, m: Market, _: Caller,
                 interval: Annotated[Literal["1m", "5m", "1h", "1d"], BeforeValidator(canonical_lower)] = "1h",
                 limit: Annotated[int, Query(ge=1, le=500, description="how many candles")] = 100) -> CandleList:
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


async def _streamed_coin(symbol: SymbolPath, m: Market, _: Caller) -> MarketState:
    """Checked before the stream starts: a stream cannot turn into a 404 once it runs."""
    _coin(m, symbol)
    return m


@router.get("/api/market/{symbol}/stream", response_class=EventSourceResponse, responses={
    **NO_COIN, 200: {"description": "Server-Sent Events: `snapshot`, then `trade`, `book` and `reset`, each with "
                                    "`id:` its sequence number", "content": {"text/event-stream": {
                                        "schema": {"type": "string"},
                                        "example": 'id: 1042\nevent: trade\ndata: {"sequence": 1042, "symbol": '
                                                   '"HEATHER", "trade": {"id": 9, "price": 12, "quantity": 3}}\n\n'}}}})
async def stream_market(symbol: SymbolPath, m: Annotated[MarketState, Depends(_streamed_coin)],
                        last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1,
                                                                    description="resume after this sequence")] = None,
                        depth: Annotated[int, Query(ge=1, le=100, description="snapshot levels a side")] = 50,
                        ) -> AsyncIterator[ServerSentEvent]:
    """The live feed of one coin (Server-Sent Events): every trade (``trade``) and every
    changed book level (``book``: each level's new price, quantity and orders; quantity
    0 means gone), numbered by ``sequence`` (the SSE ``id``). It starts with a
    ``snapshot`` (the book at a sequence), or, reconnecting with ``Last-Event-ID``,
    with the events missed while they are still recent. A client that sees a gap in
    the numbers, or a ``reset``, re-syncs from a snapshot (reconnect, or
    ``GET /api/market/{symbol}/book``) and applies the events numbered after it."""
    sub, missed = m.feed.subscribe(symbol, last_event_id)
    try:
        if missed is None:
            snap = await run_in_threadpool(m.snapshot, symbol, depth)
            snap = {"sequence": snap["sequence"], "symbol": symbol, "bids": snap["bids"], "asks": snap["asks"],
                    "lastPrice": snap["last_price"]}
            yield ServerSentEvent(data=snap, event="snapshot", id=str(snap["sequence"]))
            missed = []
            floor = snap["sequence"]
        else:
            floor = last_event_id or 0
        for e in missed:
            yield ServerSentEvent(data=e.data, event=e.kind, id=str(e.sequence))
            floor = e.sequence
        while True:
            e = await sub.queue.get()
            if sub.overflowed:  # events were dropped: start over from a snapshot
                sub.overflowed = False
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                snap = await run_in_threadpool(m.snapshot, symbol, depth)
                floor = snap["sequence"]
                yield ServerSentEvent(data={"sequence": floor, "symbol": symbol, "bids": snap["bids"],
                                            "asks": snap["asks"], "lastPrice": snap["last_price"]},
                                      event="snapshot", id=str(floor))
                continue
            if e.sequence <= floor:  # already in the snapshot's count
                continue
            floor = e.sequence
            yield ServerSentEvent(data=e.data, event=e.kind, id=str(e.sequence))
    finally:
        m.feed.unsubscribe(sub)


@router.get("/api/portfolio", response_model=PortfolioOut)
def get_portfolio(state: StateDep, m: Market, user: ReadUser) -> PortfolioOut:
    """The acting user's brand-coin positions: cost basis, value at the last price,
    realized and unrealized P&L."""
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
def get_leaderboards(m: Market, _: Caller,
                     limit: Annotated[int, Query(ge=1, le=100, description="rows per board")] = 10) -> LeaderboardsOut:
    """Coins by market cap, 24h volume, and the 24h top gainers and losers."""
    now = datetime.now(UTC)
    tape = [t for t in m.trades(newest_first=False) if t.time > now - timedelta(days=2)]
    prices = {s: m.exchange.last_price(s) for s in list(m.exchange.coins)}

    def out(rows: list) -> list[RankedOut]:
        return [RankedOut(rank=r.rank, key=r.key, value=r.value) for r in rows]

    return LeaderboardsOut(market_cap=out(by_market_cap(m.ledger, prices, limit)),
                           volume24h=out(by_volume(tape, now, limit)),
                           gainers=out(top_gainers(tape, now, limit)), losers=out(top_losers(tape, now, limit)))
