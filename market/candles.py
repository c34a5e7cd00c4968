"""OHLCV candles: UTC-aligned, gapless, from a stream of `Trade` records.

Two ways in that give identical results (a property test holds them to it):
- `build_candles(trades, symbol, interval, start, end)`: a batch over a trade list;
- `CandleAggregator`: feed trades as they happen (`add`), read candles at any time.

Rules:
- An interval's buckets start at multiples of its length since the Unix epoch, UTC
  (so 1d candles start at 00:00 UTC). A trade at exactly a bucket's start belongs to it.
- Gapless: an interval with no trades carries the last close (open = high = low = close
  = last close, volume 0). Before the coin's first trade there is no price, so no candle.
- Within a bucket, trades count in the order given (arrival order); `open` is the first.
- Naive datetimes are taken to be UTC.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .trades import Trade

__all__ = [
    "INTERVALS",
    "Candle",
    "CandleAggregator",
    "bucket_start",
    "build_candles",
    "to_utc",
]

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Candle(NamedTuple):
    """One interval of one coin. Prices in COIN per coin; ``volume`` in coins traded,
    ``quote_volume`` in COIN (sum of the trades' ``quote``), ``trades`` a count."""

    symbol: str
    interval: str
    start: datetime  # UTC, inclusive
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int

    @property
    def end(self) -> datetime:
        """Exclusive end of the interval."""
        return self.start + INTERVALS[self.interval]


def to_utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _length(interval: str) -> timedelta:
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}; expected one of {', '.join(INTERVALS)}") from None


def _index(t: datetime, length: timedelta) -> int:
    """The bucket number of ``t``: exact, as timedelta // timedelta is integer division."""
    return (to_utc(t) - _EPOCH) // length


def bucket_start(t: datetime, interval: str) -> datetime:
    """Start (UTC) of the ``interval`` bucket containing ``t``."""
    length = _length(interval)
    return _EPOCH + _index(t, length) * length


class _Bar:
    """A mutable bucket under construction: [open, high, low, close, volume, quote, n]."""

    __slots__ = ("close", "high", "low", "n", "open", "quote", "volume")

    def __init__(self, t: Trade) -> None:
        self.open = self.high = self.low = self.close = t.price
        self.volume = t.quantity
        self.quote = t.quote
        self.n = 1

    def add(self, t: Trade) -> None:
        p = t.price
        if p > self.high:
            self.high = p
        elif p < self.low:
            self.low = p
        self.close = p
        self.volume += t.quantity
        self.quote += t.quote
        self.n += 1


class _Series:
    """Non-empty buckets of one (symbol, interval), in bucket order."""

    __slots__ = ("bars", "keys", "length")

    def __init__(self, length: timedelta) -> None:
        self.length = length
        self.keys: list[int] = []
        self.bars: list[_Bar] = []

    def add(self, t: Trade) -> None:
        k = _index(t.time, self.length)
        if self.keys and self.keys[-1] == k:
            self.bars[-1].add(t)
        elif not self.keys or self.keys[-1] < k:
            self.keys.append(k)
            self.bars.append(_Bar(t))
        else:
            raise ValueError(f"trade {t.id} at {t.time} is older than the last bucket of {t.symbol}")

    def read(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Gapless candles for every bucket starting in [bucket of ``start``, ``end``)."""
        length, keys, bars = self.length, self.keys, self.bars
        first = _index(start, length)
        end_u = to_utc(end)
        last = _index(end_u, length)
        if _EPOCH + last * length == end_u:
            last -= 1  # a bucket starting exactly at `end` is outside
        i = bisect_left(keys, first)
        close = bars[i - 1].close if i > 0 else None
        out: list[Candle] = []
        for k in range(first, last + 1):
            at = _EPOCH + k * length
            if i < len(keys) and keys[i] == k:
                b = bars[i]
                out.append(Candle(symbol, interval, at, b.open, b.high, b.low, b.close, b.volume, b.quote, b.n))
                close = b.close
                i += 1
            elif close is not None:
                out.append(Candle(symbol, interval, at, close, close, close, close, 0, 0, 0))
        return out


class CandleAggregator:
    """Incremental candles for many coins and intervals. Trades of one coin must arrive
    in time order (matching produces them so); an older one is refused with ValueError
    before anything changes."""

    def __init__(self, intervals: Iterable[str] = tuple(INTERVALS)) -> None:
        self.intervals = tuple(intervals)
        for name in self.intervals:
            _length(name)
        self._series: dict[str, dict[str, _Series]] = {}
        self._last: dict[str, datetime] = {}

    def add(self, trade: Trade) -> None:
        last = self._last.get(trade.symbol)
        t = to_utc(trade.time)
        if last is not None and t < last:
            raise ValueError(f"trade {trade.id} at {trade.time} is older than {last} for {trade.symbol}")
        series = self._series.get(trade.symbol)
        if series is None:
            series = self._series[trade.symbol] = {n: _Series(INTERVALS[n]) for n in self.intervals}
        for s in series.values():
            s.add(trade)
        self._last[trade.symbol] = t

    def extend(self, trades: Iterable[Trade]) -> None:
        for t in trades:
            self.add(t)

    def symbols(self) -> list[str]:
        return sorted(self._series)

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Candles of ``symbol`` for buckets starting in [bucket of ``start``, ``end``)."""
        if interval not in self.intervals:
            raise ValueError(f"interval {interval!r} is not aggregated here ({', '.join(self.intervals)})")
        series = self._series.get(symbol)
        if series is None:
            return []
        return series[interval].read(symbol, interval, start, end)

    def last_close(self, symbol: str) -> int | None:
        series = self._series.get(symbol)
        if not series:
            return None
        bars = next(iter(series.values())).bars
        return bars[-1].close if bars else None


def build_candles(
    trades: Iterable[Trade], symbol: str, interval: str, start: datetime, end: datetime
) -> list[Candle]:
    """Batch: candles of ``symbol`` for buckets starting in [bucket of ``start``, ``end``),
    from ``trades`` (any symbols, in arrival order; trades at or after ``end``'s bucket
    are ignored). Same result as feeding a `CandleAggregator` the same trades."""
    series = _Series(_length(interval))
    mine = sorted((t for t in trades if t.symbol == symbol), key=lambda t: to_utc(t.time))
    for t in mine:
        series.add(t)
    return series.read(symbol, interval, start, end)
