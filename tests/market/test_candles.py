from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.candles import INTERVALS, Candle, CandleAggregator, bucket_start, build_candles
from market.trades import Trade

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def trade(i: int, t: datetime, price: int, qty: int = 1, symbol: str = "HEATHER") -> Trade:
    return Trade(i, symbol, t, price, qty, price * qty, "user:a", "user:b", "buy")


def brute_force(trades: list[Trade], symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
    """Candles recomputed from scratch, bucket by bucket, with no shared code."""
    step = int(INTERVALS[interval].total_seconds())
    mine = [t for t in trades if t.symbol == symbol]
    out = []
    epoch_start = int(start.timestamp()) // step * step
    at = epoch_start
    while at < end.timestamp():
        lo = datetime.fromtimestamp(at, UTC)
        hi = lo + timedelta(seconds=step)
        inside = [t for t in mine if lo <= t.time < hi]
        before = [t for t in mine if t.time < lo]
        if inside:
            prices = [t.price for t in inside]
            out.append(Candle(symbol, interval, lo, prices[0], max(prices), min(prices), prices[-1],
                              sum(t.quantity for t in inside), sum(t.quote for t in inside), len(inside)))
        elif before:
            c = before[-1].price
            out.append(Candle(symbol, interval, lo, c, c, c, c, 0, 0, 0))
        at += step
    return out


# offsets in seconds, sorted so the stream is in time order; up to ~3 hours
streams = st.lists(
    st.tuples(st.integers(0, 3 * 3600), st.integers(1, 500), st.integers(1, 50), st.sampled_from(["A", "B"])),
    max_size=60,
).map(lambda xs: sorted(xs, key=lambda x: x[0]))


@settings(max_examples=120, deadline=None)
@given(streams, st.sampled_from(["1m", "5m", "1h", "1d"]), st.integers(-600, 3 * 3600), st.integers(0, 4 * 3600))
def test_incremental_batch_and_brute_force_agree(stream, interval, start_off, span):
    trades = [trade(i, T0 + timedelta(seconds=s), p, q, sym) for i, (s, p, q, sym) in enumerate(stream)]
    start = T0 + timedelta(seconds=start_off)
    end = start + timedelta(seconds=span)
    agg = CandleAggregator()
    agg.extend(trades)
    for symbol in ("A", "B"):
        expected = brute_force(trades, symbol, interval, start, end)
        assert build_candles(trades, symbol, interval, start, end) == expected
        assert agg.candles(symbol, interval, start, end) == expected


def test_buckets_are_utc_aligned():
    t = datetime(2026, 3, 1, 13, 47, 59, 999999, tzinfo=UTC)
    assert bucket_start(t, "1m") == datetime(2026, 3, 1, 13, 47, tzinfo=UTC)
    assert bucket_start(t, "5m") == datetime(2026, 3, 1, 13, 45, tzinfo=UTC)
    assert bucket_start(t, "1h") == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    assert bucket_start(t, "1d") == datetime(2026, 3, 1, tzinfo=UTC)


def test_other_timezones_align_to_utc():
    from datetime import timezone

    t = datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=5)))  # 20:30 UTC the day before
    assert bucket_start(t, "1d") == datetime(2026, 2, 28, tzinfo=UTC)


def test_trade_on_boundary_opens_the_new_bucket():
    trades = [trade(1, T0 - timedelta(seconds=1), 10), trade(2, T0, 20)]
    c = build_candles(trades, "HEATHER", "1m", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert [x.close for x in c] == [10, 20]


def test_empty_interval_carries_last_close_with_zero_volume():
    trades = [trade(1, T0, 10), trade(2, T0 + timedelta(seconds=30), 12, 3),
              trade(3, T0 + timedelta(minutes=3, seconds=5), 9)]
    c = build_candles(trades, "HEATHER", "1m", T0, T0 + timedelta(minutes=4))
    assert [x.start for x in c] == [T0 + timedelta(minutes=m) for m in range(4)]
    assert c[0] == Candle("HEATHER", "1m", T0, 10, 12, 10, 12, 4, 46, 2)
    assert c[1] == c[2]._replace(start=c[1].start) == Candle("HEATHER", "1m", c[1].start, 12, 12, 12, 12, 0, 0, 0)
    assert c[3].open == 9 and c[3].volume == 1


def test_no_candle_before_the_first_trade():
    c = build_candles([trade(1, T0 + timedelta(minutes=2), 10)], "HEATHER", "1m", T0, T0 + timedelta(minutes=3))
    assert [x.start for x in c] == [T0 + timedelta(minutes=2)]


def test_carry_reaches_past_the_read_window_start():
    trades = [trade(1, T0, 7)]
    c = build_candles(trades, "HEATHER", "1h", T0 + timedelta(hours=5), T0 + timedelta(hours=7))
    assert [(x.open, x.volume) for x in c] == [(7, 0), (7, 0)]


def test_aggregator_refuses_out_of_order_trades_and_keeps_state():
    agg = CandleAggregator()
    agg.add(trade(1, T0 + timedelta(minutes=5), 10))
    with pytest.raises(ValueError):
        agg.add(trade(2, T0, 99))
    assert agg.last_close("HEATHER") == 10
    assert [x.high for x in agg.candles("HEATHER", "1m", T0, T0 + timedelta(minutes=6))] == [10]


def test_unknown_interval_is_refused():
    with pytest.raises(ValueError):
        build_candles([], "HEATHER", "2m", T0, T0)
