from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from market.detector import DetectorConfig, PumpDetector, scan
from market.trades import Trade

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TRADERS = [f"user:t{i}" for i in range(40)]


def honest(seed: int, hours: int = 6, start: datetime = T0, price: int = 1000, first_id: int = 0) -> list[Trade]:
    """A random walk: a trade every 5-40 s by random traders, price steps of about 0.5%,
    sizes 1-20, buys and sells alike."""
    rng = random.Random(seed)
    t, out, i = start, [], first_id
    while t < start + timedelta(hours=hours):
        t += timedelta(seconds=rng.randint(5, 40))
        price = max(1, round(price * (1 + rng.gauss(0, 0.005))))
        side = rng.choice(["buy", "sell"])
        a, b = rng.sample(TRADERS, 2)
        q = rng.randint(1, 20)
        out.append(Trade(i, "HEATHER", t, price, q, price * q, a, b, side, taker_order_id=i))
        i += 1
    return out


def pump(after: list[Trade], minutes: int = 4, steps: int = 30, rise: float = 0.5) -> list[Trade]:
    """Two accounts buy hard for a few minutes: price up ``rise``, heavy volume."""
    last = after[-1]
    out, i = [], last.id + 1
    for n in range(steps):
        t = last.time + timedelta(seconds=(n + 1) * minutes * 60 / steps)
        price = round(last.price * (1 + rise * (n + 1) / steps))
        buyer = "user:ring1" if n % 2 else "user:ring2"
        out.append(Trade(i, "HEATHER", t, price, 40, 40 * price, buyer, "user:t1", "buy", taker_order_id=i))
        i += 1
    return out


@pytest.mark.parametrize("seed", range(5))
def test_honest_random_walk_raises_no_alert(seed):
    assert scan(honest(seed)) == []


def test_scripted_pump_is_flagged_with_its_evidence():
    base = honest(1)
    alerts = scan(base + pump(base))
    spikes = [a for a in alerts if a.kind == "price_volume_spike"]
    assert spikes, alerts
    ev = spikes[0].evidence
    cfg = DetectorConfig()
    assert ev["direction"] == "up"
    assert ev["z_score"] >= cfg.return_z and ev["move_bps"] >= cfg.min_move_bps
    assert ev["window_volume"] >= cfg.volume_ratio * ev["rolling_mean_volume"]
    assert spikes[0].time > base[-1].time and spikes[0].symbol == "HEATHER"


def test_a_price_move_without_volume_is_not_a_spike():
    base = honest(2)
    quiet = [p._replace(quantity=1, quote=p.price) for p in pump(base, steps=3)]
    assert [a for a in scan(base + quiet) if a.kind == "price_volume_spike"] == []


def test_volume_without_a_price_move_is_not_a_spike():
    base = honest(3)
    heavy = [p._replace(price=base[-1].price, quote=40 * base[-1].price) for p in pump(base)]
    assert [a for a in scan(base + heavy) if a.kind == "price_volume_spike"] == []


def test_the_dump_is_flagged_too():
    base = honest(4)
    up = pump(base)
    down = [p._replace(id=p.id + 100, time=p.time + timedelta(minutes=10), price=max(1, base[-1].price // 3),
                       buyer="user:t2", seller="user:ring1", taker_side="sell") for p in up]
    kinds = [(a.kind, a.evidence.get("direction")) for a in scan(base + up + down)]
    assert ("price_volume_spike", "down") in kinds


def test_one_spike_alert_per_window():
    base = honest(5)
    spikes = [a for a in scan(base + pump(base, minutes=4)) if a.kind == "price_volume_spike"]
    assert len({a.evidence["window_start"] for a in spikes}) == len(spikes)


def burst(start: datetime, n: int, accounts: list[str], first_id: int, gap_s: float = 0.5) -> list[Trade]:
    return [Trade(first_id + k, "HEATHER", start + timedelta(seconds=gap_s * k), 1000, 5, 5000,
                  accounts[k % len(accounts)], "user:t3", "buy", taker_order_id=first_id + k) for k in range(n)]


def test_burst_of_market_buys_from_few_accounts_is_flagged():
    base = honest(6)
    ring = burst(base[-1].time + timedelta(seconds=1), 10, ["user:ring1", "user:ring2"], base[-1].id + 1)
    alerts = [a for a in scan(base + ring) if a.kind == "buy_burst"]
    assert len(alerts) == 1
    ev = alerts[0].evidence
    # fires on the 8th order (the threshold), once for the whole burst
    assert ev["orders_by_account"] == {"user:ring1": 4, "user:ring2": 4}
    assert ev["taker_buy_orders"] == DetectorConfig().burst_orders and ev["seconds"] <= 10
    assert alerts[0].time == ring[7].time


def test_the_same_count_of_buys_from_many_accounts_is_not_a_burst():
    crowd = burst(T0, 10, TRADERS[:10], 0)
    assert [a for a in scan(crowd) if a.kind == "buy_burst"] == []


def test_fills_of_one_sweeping_order_count_once():
    sweep = [t._replace(taker_order_id=99) for t in burst(T0, 12, ["user:whale"], 0)]
    assert scan(sweep) == []


def test_detector_refuses_trades_from_an_earlier_window():
    d = PumpDetector()
    d.observe(Trade(1, "HEATHER", T0 + timedelta(hours=1), 10, 1, 10, "user:a", "user:b", "buy"))
    with pytest.raises(ValueError):
        d.observe(Trade(2, "HEATHER", T0, 10, 1, 10, "user:a", "user:b", "buy"))


# -- wash trading ----------------------------------------------------------------------------
def ring_trades(after: list[Trade], n: int = 20, accounts: tuple[str, ...] = ("user:ring1", "user:ring2"),
                every: timedelta = timedelta(minutes=6)) -> list[Trade]:
    """The ring takes turns selling 1 coin to the next member, a little higher each time."""
    last = after[-1]
    out = []
    for k in range(n):
        buyer, seller = accounts[k % len(accounts)], accounts[(k + 1) % len(accounts)]
        price = last.price + k
        out.append(Trade(last.id + 1 + k, "HEATHER", last.time + every * (k + 1), price, 1, price,
                         buyer, seller, "buy", taker_order_id=last.id + 1 + k))
    return out


def test_two_accounts_trading_one_coin_back_and_forth_are_flagged_by_name():
    base = honest(seed=3)
    [alert] = scan(base + ring_trades(base))
    assert alert.kind == "wash_trading"
    assert alert.evidence["accounts"] == ["user:ring1", "user:ring2"]
    assert alert.evidence["trades_inside"] == 10 and alert.time == ring_trades(base)[9].time


def test_a_ring_of_three_taking_turns_is_flagged_once_per_window():
    base = honest(seed=4)
    trio = ("user:r1", "user:r2", "user:r3")
    alerts = [a for a in scan(base + ring_trades(base, n=60, accounts=trio)) if a.kind == "wash_trading"]
    assert [a.evidence["accounts"] for a in alerts] == [sorted(trio)]


def test_nine_repeated_trades_are_not_yet_wash_trading():
    base = honest(seed=3)
    assert scan(base + ring_trades(base, n=9)) == []


def test_a_regular_customer_of_a_busy_market_maker_is_not_wash_trading():
    base = honest(seed=5)
    last = base[-1]
    extra = [Trade(last.id + 1 + k, "HEATHER", last.time + timedelta(minutes=k + 1), last.price, 1, last.price,
                   "user:regular" if k % 2 else f"user:c{k}", "user:mm", "buy", taker_order_id=last.id + 1 + k)
             for k in range(40)]
    assert scan(base + extra) == []
