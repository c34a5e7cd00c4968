"""Pump-and-dump detector: watches the trade stream and raises `Alert`s with evidence.

Two signals, per coin:
- ``price_volume_spike``: in the current window (UTC-aligned, ``config.window`` long),
  the log return against the previous window's close is beyond ``return_z`` rolling
  standard deviations of past window returns AND beyond ``min_move_bps``, while the
  window's volume (coins) is at least ``volume_ratio`` times the rolling mean window
  volume. The baseline is the last ``lookback`` windows, gapless (a quiet window counts
  as return 0, volume 0), and needs ``min_history`` windows before anything fires.
- ``buy_burst``: within ``burst_window``, the ``burst_max_accounts`` busiest buyers
  placed at least ``burst_orders`` taker buy orders between them (fills of one order
  count once).
- ``wash_trading``: within ``wash_window``, a ring (`market.reference.rings`: at most
  ``wash_max_accounts`` accounts joined by pairs that traded ``wash_min_repeats`` times,
  more than ``wash_share_bps`` of their trades among themselves) traded at least
  ``wash_min_trades`` times inside itself. Size does not matter: 1-coin trades count;
  the fills of one taker order count once. The alert names the accounts.

Each kind fires at most once per window / burst / ring, so a pump yields a handful of
alerts, not one per trade. Statistics are floats: they never move money.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from .candles import to_utc
from .reference import MAX_TRADES, rings
from .trades import Trade

__all__ = ["Alert", "DetectorConfig", "PumpDetector", "scan"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds. Defaults: 5-minute windows against the last 2 hours."""

    window: timedelta = timedelta(minutes=5)
    lookback: int = 24  # windows in the rolling baseline
    min_history: int = 6  # windows seen before the spike signal may fire
    return_z: float = 4.0  # |return| >= return_z * rolling stdev of returns
    min_move_bps: int = 1000  # and |return| >= 10% (keeps a dead-calm coin from alerting on noise)
    min_sigma: float = 0.002  # floor under the rolling stdev
    volume_ratio: float = 5.0  # window volume >= 5x rolling mean
    min_volume: int = 1  # floor under the rolling mean volume (coins)
    direction: str = "both"  # "up" (pumps only), "down" (dumps only) or "both"
    burst_window: timedelta = timedelta(seconds=10)
    burst_orders: int = 8
    burst_max_accounts: int = 2
    wash_window: timedelta = timedelta(hours=24)
    wash_min_trades: int = 10  # trades inside the ring in the window
    wash_min_repeats: int = 3
    wash_max_accounts: int = 8
    wash_share_bps: int = 5000


class Alert(NamedTuple):
    """A flag on ``symbol`` at ``time`` (the trade that tripped it). ``evidence`` holds
    the numbers that triggered it, and the thresholds they were compared with."""

    symbol: str
    time: datetime
    kind: str  # "price_volume_spike", "buy_burst" or "wash_trading"
    evidence: dict[str, Any]


class _Coin:
    """Rolling state of one coin."""

    __slots__ = ("bucket", "burst", "burst_fired_until", "close", "fired_bucket", "history", "pairs", "prev_close",
                 "volume", "wash", "wash_fired_until", "wash_order")

    def __init__(self, lookback: int) -> None:
        self.bucket: int | None = None  # current window number
        self.prev_close: int | None = None  # close of the window before the current one
        self.close = 0
        self.volume = 0
        self.history: deque[tuple[float, int]] = deque(maxlen=lookback)  # (return, volume) per past window
        self.fired_bucket: int | None = None
        self.burst: deque[tuple[datetime, str, object]] = deque()  # (time, buyer, order)
        self.burst_fired_until: datetime | None = None
        self.wash: deque[tuple[datetime, tuple[str, str]]] = deque()  # (time, sorted pair)
        self.pairs: Counter[tuple[str, str]] = Counter()  # trades per pair in the wash window
        self.wash_fired_until: dict[frozenset[str], datetime] = {}
        self.wash_order: int | None = None  # taker order of the last trade counted


def _log_return(price: int, ref: int) -> float:
    return math.log(price / ref) if price > 0 and ref > 0 else 0.0


class PumpDetector:
    """Feed trades in time order with `observe`; it returns the alerts they raise (also
    kept in ``alerts``)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        if self.config.direction not in ("up", "down", "both"):
            raise ValueError(f"direction must be up, down or both, not {self.config.direction!r}")
        self.alerts: list[Alert] = []
        self._coins: dict[str, _Coin] = {}

    def observe(self, trade: Trade) -> list[Alert]:
        coin = self._coins.get(trade.symbol)
        if coin is None:
            coin = self._coins[trade.symbol] = _Coin(self.config.lookback)
        t = to_utc(trade.time)
        out = []
        spike = self._spike(coin, trade, t)
        if spike is not None:
            out.append(spike)
        burst = self._burst(coin, trade, t)
        if burst is not None:
            out.append(burst)
        wash = self._wash(coin, trade, t)
        if wash is not None:
            out.append(wash)
        self.alerts.extend(out)
        return out

    def observe_all(self, trades: Iterable[Trade]) -> list[Alert]:
        out: list[Alert] = []
        for t in trades:
            out.extend(self.observe(t))
        return out

    # -- price and volume ------------------------------------------------------
    def _roll(self, coin: _Coin, k: int) -> None:
        """Close windows up to (not including) window ``k``, quiet ones included."""
        if coin.bucket is None:
            coin.bucket = k
            return
        if k == coin.bucket:
            return
        ref = coin.prev_close if coin.prev_close is not None else coin.close
        coin.history.append((_log_return(coin.close, ref), coin.volume))
        quiet = min(k - coin.bucket - 1, coin.history.maxlen or 0)
        for _ in range(quiet):
            coin.history.append((0.0, 0))
        coin.prev_close = coin.close
        coin.volume = 0
        coin.bucket = k

    def _spike(self, coin: _Coin, trade: Trade, t: datetime) -> Alert | None:
        cfg = self.config
        k = (t - _EPOCH) // cfg.window
        if coin.bucket is not None and k < coin.bucket:
            raise ValueError(f"trade {trade.id} at {trade.time} is older than the current window")
        self._roll(coin, k)
        coin.close = trade.price
        coin.volume += trade.quantity
        if coin.prev_close is None or len(coin.history) < cfg.min_history or coin.fired_bucket == k:
            return None
        ret = _log_return(trade.price, coin.prev_close)
        if (cfg.direction == "up" and ret <= 0) or (cfg.direction == "down" and ret >= 0):
            return None
        rets = [r for r, _ in coin.history]
        mean_r = sum(rets) / len(rets)
        sigma = max(cfg.min_sigma, math.sqrt(sum((r - mean_r) ** 2 for r in rets) / len(rets)))
        mean_v = max(float(cfg.min_volume), sum(v for _, v in coin.history) / len(coin.history))
        move_bps = (trade.price - coin.prev_close) * 10_000 // coin.prev_close
        z = abs(ret) / sigma
        if z < cfg.return_z or abs(move_bps) < cfg.min_move_bps or coin.volume < cfg.volume_ratio * mean_v:
            return None
        coin.fired_bucket = k
        return Alert(trade.symbol, trade.time, "price_volume_spike", {
            "direction": "up" if ret > 0 else "down",
            "window_start": _EPOCH + k * cfg.window,
            "price": trade.price,
            "reference_price": coin.prev_close,
            "move_bps": move_bps,
            "log_return": ret,
            "rolling_sigma": sigma,
            "z_score": z,
            "window_volume": coin.volume,
            "rolling_mean_volume": mean_v,
            "volume_ratio": coin.volume / mean_v,
            "windows_in_baseline": len(coin.history),
            "thresholds": {"return_z": cfg.return_z, "min_move_bps": cfg.min_move_bps,
                           "volume_ratio": cfg.volume_ratio},
        })

    # -- bursts of market buys ---------------------------------------------------
    def _burst(self, coin: _Coin, trade: Trade, t: datetime) -> Alert | None:
        if trade.taker_side != "buy":
            return None
        cfg = self.config
        q = coin.burst
        q.append((t, trade.buyer, trade.taker_order_id if trade.taker_order_id is not None else ("trade", trade.id)))
        while q and q[0][0] <= t - cfg.burst_window:
            q.popleft()
        if coin.burst_fired_until is not None and t < coin.burst_fired_until:
            return None
        # Orders per account in the window; the few busiest accounts are the suspects,
        # so honest buyers trading at the same time do not hide a ring.
        per_account: dict[str, set[object]] = {}
        for _, buyer, order in q:
            per_account.setdefault(buyer, set()).add(order)
        ranked = sorted(per_account.items(), key=lambda kv: (-len(kv[1]), kv[0]))[: cfg.burst_max_accounts]
        suspect_orders = sum(len(orders) for _, orders in ranked)
        if suspect_orders < cfg.burst_orders:
            return None
        coin.burst_fired_until = t + cfg.burst_window
        suspects = {a for a, _ in ranked}
        first = next(tt for tt, b, _ in q if b in suspects)
        return Alert(trade.symbol, trade.time, "buy_burst", {
            "taker_buy_orders": suspect_orders,
            "orders_by_account": {a: len(o) for a, o in ranked},
            "all_taker_buy_orders": sum(len(o) for o in per_account.values()),
            "fills": len(q),
            "seconds": (t - first).total_seconds(),
            "thresholds": {"burst_orders": cfg.burst_orders, "burst_max_accounts": cfg.burst_max_accounts,
                           "burst_window_s": cfg.burst_window.total_seconds()},
        })

    # -- wash trading ---------------------------------------------------------------
    def _wash(self, coin: _Coin, trade: Trade, t: datetime) -> Alert | None:
        cfg = self.config
        q, pairs = coin.wash, coin.pairs
        while q and q[0][0] <= t - cfg.wash_window:
            pairs[q.popleft()[1]] -= 1
        order = trade.taker_order_id
        if trade.buyer == trade.seller or (order is not None and order == coin.wash_order):
            return None  # a sweep's fills are one trade between the pair
        coin.wash_order = order
        if len(q) == MAX_TRADES:
            pairs[q.popleft()[1]] -= 1
        pair = (trade.buyer, trade.seller) if trade.buyer < trade.seller else (trade.seller, trade.buyer)
        q.append((t, pair))
        pairs[pair] += 1
        if pairs[pair] < cfg.wash_min_repeats:
            return None  # only a repeated pair can close a ring
        found = [r for r in rings((p for _, p in q), min_repeats=cfg.wash_min_repeats,
                                  max_accounts=cfg.wash_max_accounts, share_bps=cfg.wash_share_bps)
                 if trade.buyer in r]
        if not found:
            return None
        ring = found[0]
        until = coin.wash_fired_until.get(ring)
        if until is not None and t < until:
            return None
        inside = sum(n for (a, b), n in pairs.items() if a in ring and b in ring)
        if inside < cfg.wash_min_trades:
            return None
        involving = sum(n for (a, b), n in pairs.items() if a in ring or b in ring)
        coin.wash_fired_until[ring] = t + cfg.wash_window
        return Alert(trade.symbol, trade.time, "wash_trading", {
            "accounts": sorted(ring),
            "trades_inside": inside,
            "trades_involving": involving,
            "window_s": cfg.wash_window.total_seconds(),
            "thresholds": {"wash_min_trades": cfg.wash_min_trades, "wash_min_repeats": cfg.wash_min_repeats,
                           "wash_max_accounts": cfg.wash_max_accounts, "wash_share_bps": cfg.wash_share_bps},
        })


def scan(trades: Iterable[Trade], config: DetectorConfig | None = None) -> list[Alert]:
    """Run a fresh detector over ``trades`` (time order) and return every alert."""
    return PumpDetector(config).observe_all(trades)
