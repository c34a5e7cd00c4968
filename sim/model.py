"""`EconomyModel`: a Mesa 3 model whose clock is a SimPy environment.

The model wires the REAL production code over one in-memory ledger: `Ledger` with
`SpillingStore` (sim/spill.py), the economy (`SimRules`, `PackageCatalog`, `Payments` with the
simulated Stripe, `Pools`, `Challenges`) and the brand-coin market (`Exchange`, or a
`BondingCurve` per coin). Agents (sim/agents.py) live as SimPy processes; one
``model.step()`` runs the SimPy clock to the end of the next day and records that
day's metrics with a Mesa `DataCollector`.

Deterministic for a seed: all randomness comes from ``model.random`` (Mesa's seeded
``random.Random``) and each user's own stream (``User.stream``, seeded by the seed and
the user's id: common random numbers across runs that differ in a parameter), ids are
counters, and the ledger's clock reads the SimPy time as a UTC datetime from ``START``;
nothing reads the wall clock.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from operator import mul
from typing import Any, Protocol

import mesa
import simpy

from ledger import BURN, MINT, Ledger
from ledger.economy import Economy
from ledger.economy.challenges import Challenges
from ledger.economy.packages import MemoryPackageStore, PackageCatalog
from ledger.economy.payments import Payments
from ledger.economy.pools import Pools
from ledger.economy.rules import PLATFORM
from ledger.errors import LedgerError
from market import coins as coin_ops
from market.book import BUY, SELL, Order, OrderStatus
from market.candles import CandleAggregator
from market.curve import BondingCurve, CurveConfig, CurveError, DefenseGuard
from market.defenses import DefenseAlert
from market.detector import Alert, PumpDetector
from market.exchange import Exchange
from market.trades import Trade

from .adapters import IndexedPaymentStore, IndexedPoolStore, SimRules
from .agents import (
    DAY,
    Follower,
    PumpRing,
    Seller,
    Shopper,
    SimAgent,
    SybilFarmer,
    Trader,
    User,
    Whale,
)
from .scenario import Scenario
from .spill import SPILL_ROWS, SpillingStore
from .stripe import SimStripe

__all__ = ["METRICS", "START", "EconomyModel", "Origin", "SimClock", "concentration", "gini", "top_share"]

START = datetime(2026, 1, 1, tzinfo=UTC)

METRICS = (
    "day", "issued", "burned", "circulating", "issued_today", "burned_today", "platform_coin",
    "revenue_cents", "revenue_cents_today", "users", "arrivals_today", "logins_today",
    "checkouts_today", "trades_today", "trade_volume_coin_today", "defense_alerts_today",
    "detector_alerts_today", "sybil_farmed", "gini", "top1_share",
    "free_issued_today", "purchased_issued_today", "bonus_issued_today", "house_burn_today", "dust_burn_today",
    "honest_volume_coin_today",
)
# Issuance by kind: what a purchase mints (base and bonus coins); everything else the
# mint pays in COIN (rewards, grants) is free issuance.
PURCHASED, BONUS = "COIN_PURCHASE", "COIN_PURCHASE_BONUS"
ADVERSARIES = frozenset({"ring", "sybil"})


class SimClock:
    """The ledger's clock: SimPy seconds since ``start`` as a UTC datetime."""

    def __init__(self, env: simpy.Environment, start: datetime = START) -> None:
        self.env = env
        self.start = start
        self._t = -1.0
        self._dt = start
        self._epoch = int(start.timestamp())

    def __call__(self) -> datetime:
        t = self.env.now
        if t != self._t:
            self._t = t
            self._dt = self.start + timedelta(0, t)  # positional: no keyword parsing
        return self._dt

    def unix(self) -> int:
        return self._epoch + int(self.env.now)


def _positive_sorted(values: list[int]) -> list[int]:
    xs = [v for v in values if v > 0]
    xs.sort()
    return xs


def _gini_sorted(xs: list[int]) -> float:
    n = len(xs)
    total = sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum(map(mul, range(1, n + 1), xs))  # sum of (i + 1) * x, exact integers
    return (2.0 * weighted) / (n * total) - (n + 1.0) / n


def _top_share_sorted(xs: list[int], share: float) -> float:
    total = sum(xs)
    if not xs or total == 0:
        return 0.0
    k = max(1, math.ceil(len(xs) * share))
    return sum(xs[-k:]) / total  # the k largest


def gini(values: list[int]) -> float:
    """Gini coefficient of non-negative amounts (0: all equal, ->1: one holds all)."""
    return _gini_sorted(_positive_sorted(values))


def top_share(values: list[int], share: float = 0.01) -> float:
    """Fraction of the total held by the top ``share`` of holders (at least one)."""
    return _top_share_sorted(_positive_sorted(values), share)


def concentration(values: list[int], share: float = 0.01) -> tuple[float, float]:
    """``(gini(values), top_share(values, share))`` with one sort."""
    xs = _positive_sorted(values)
    return _gini_sorted(xs), _top_share_sorted(xs, share)


class Origin(Protocol):
    """Where a model starts when not from an empty ledger (`sim.forecast.StateOrigin`: a
    warehouse source's state). ``at``: the clock's start; ``open``: post the opening
    balances and set up the source's brand coins, sellers and open orders (in place of
    launching the scenario's shops); ``carry_over``: after the scenario's population is
    set up, add the source's users and continue the source's cumulative metrics."""

    at: datetime

    def open(self, model: EconomyModel) -> None: ...

    def carry_over(self, model: EconomyModel) -> None: ...


class EconomyModel(mesa.Model):
    """The simulated world of one scenario. ``check_each_day`` runs the ledger's full
    invariant check after every day (tests); a failure raises AssertionError. ``origin``:
    start from a source's state (a forecast) instead of an empty ledger; ``start``: the
    clock's first midnight otherwise; ``backend``: act on an economy elsewhere (the demo's
    service) instead of the in-memory one; ``spill_rows``: journal entries held in memory
    before they go to disk (`sim.spill`)."""

    # set by _build_economy, or by a backend with objects answering the same calls
    ledger: Ledger
    stripe: SimStripe
    economy: Economy

    def __init__(self, scenario: Scenario, *, users: int | None = None, days: int | None = None,
                 seed: int | None = None, check_each_day: bool = False, origin: Origin | None = None,
                 backend: Any = None, start: datetime = START,
                 spill_rows: int = SPILL_ROWS) -> None:
        upd: dict[str, Any] = {k: v for k, v in (("users", users), ("days", days), ("seed", seed)) if v is not None}
        pop = scenario.population.model_copy(update=upd)
        super().__init__(seed=pop.seed)
        self.scenario = scenario
        self.pop = pop
        self.behaviour = scenario.behaviour
        self.config = scenario.config
        self.check_each_day = check_each_day
        self.spill_rows = spill_rows
        self.env = simpy.Environment()
        self.clock = SimClock(self.env, origin.at if origin is not None else start)
        self.uid_offset = 0  # arrivals are u<offset + 1>, ...: a state's users keep their ids
        # An economy elsewhere (sim.http_economy.HttpBackend: a running service) instead of
        # the in-memory one; the agents act on either alike. Metrics then come from that
        # service's own journal, not from the day's records here.
        self.backend = backend
        self.counts: dict[str, int] = defaultdict(int)
        self.roles: dict[str, str] = {}
        self.logins_today = 0
        self.checkout_seq = 0
        self.challenge_seq = 0

        # -- the real economy over an in-memory ledger (or the backend's) --
        remote_exchange = None
        if backend is None:
            self._build_economy()
        else:
            self.ledger, self.stripe, self.economy, remote_exchange = backend.connect(self)
        self.packages = self.economy.catalog.list()
        self.challenge_fee = self.economy.challenges.entry_fee(pop.betting.belt_value)

        # -- the brand-coin market --
        mk = pop.market
        self.exchange: Exchange | None = None
        self.curves: dict[str, BondingCurve] = {}
        self.brand_coins: dict[str, coin_ops.BrandCoin] = {}
        self.orders: list[Order] = []
        self.curve_tape: list[Trade] = []
        self.candles = CandleAggregator(("1h", "1d"))
        self.detector = PumpDetector()
        self.detector_alerts: list[Alert] = []
        self.defense_alerts: list[DefenseAlert] = []
        self.prev_close: dict[str, int] = {}
        self.hype: dict[str, float] = {}
        self.ring_targets: set[str] = set()
        if mk.mechanism == "book":
            self.exchange = remote_exchange or Exchange(self.ledger, scenario.market, clock=self.clock)
            self.exchange.subscribe(on_trade=self._on_trade, on_alert=self.defense_alerts.append)
        self.sellers: list[Seller] = []
        self.users: list[User] = []
        self.bettors: list[User] = []
        # A source's state (origin): the accounts already in it (its agents go on from
        # where they were, they do not arrive again) and the payment records carried over
        # from it (known to the economy, not this run's payments: not exported).
        self.present: frozenset[str] = frozenset()
        self.carried_payments: set[str] = set()
        if origin is not None:
            origin.open(self)
        else:
            for i in range(mk.sellers if mk.shoppers or mk.traders or pop.pump.rings else 0):
                self._launch(i)

        # -- pools and challenges, run by the house --
        self.open_pools: list[str] = []
        self.pool_ends: list[tuple[float, str]] = []
        self.challenges_open: list[tuple[float, str, User, str]] = []
        self.stakers: dict[str, list[tuple[User, int]]] = {}
        self.pool_seq = 0

        # -- people --
        self._people()
        self.env.process(self._house())
        # spread and depth per coin, sampled hourly (a read: no randomness, no state change)
        self.market_samples: dict[str, list[int]] = {sym: [0, 0, 0, 0] for sym in self.brand_coins}
        if self.brand_coins and backend is None:
            self.env.process(self._sample_market())
        self._last: dict[str, int] = defaultdict(int)
        self.issued_by_type: dict[str, int] = defaultdict(int)
        self.burned_by_type: dict[str, int] = defaultdict(int)
        self._journal_seen = 0
        self.today: dict[str, Any] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={k: (lambda m, k=k: m.today[k]) for k in METRICS})
        if origin is not None:
            origin.carry_over(self)

    # -- setup ------------------------------------------------------------------------------
    def _build_economy(self) -> None:
        self.ledger = ledger = Ledger(SpillingStore(spill_rows=self.spill_rows), clock=self.clock)
        self.stripe = SimStripe(self.env, self.random, self.pop.stripe, self.clock.unix)
        catalog = PackageCatalog(self.config, MemoryPackageStore())
        payments = Payments(ledger, self.config, IndexedPaymentStore(), catalog, self.stripe,  # type: ignore[arg-type]
                            self.stripe.webhook_secret)
        self.stripe.payments = payments
        self.economy = Economy(ledger, self.config, SimRules(ledger, self.config), catalog, payments,
                               Pools(ledger, self.config, IndexedPoolStore()), Challenges(ledger, self.config))
        ledger.open_account(PLATFORM)

    def _launch(self, i: int) -> None:
        mk = self.pop.market
        symbol = f"SHOP{i + 1}"
        seller = Seller(self, f"seller{i + 1}", symbol)
        now = self.clock()
        if self.exchange is not None:
            self.exchange.launch(symbol, f"Shop {i + 1}", seller.account, initial_price=mk.initial_price,
                                 max_supply=mk.max_supply, now=now)
            self.brand_coins[symbol] = self.exchange.coins[symbol]
        else:
            coin = coin_ops.launch(self.ledger, symbol, f"Shop {i + 1}", seller.account, max_supply=mk.max_supply,
                                   initial_price=mk.initial_price, allocation=0, now=now)
            self.brand_coins[symbol] = coin
            cfg = CurveConfig(base=Fraction(mk.initial_price), slope=Fraction(mk.initial_price, 2000),
                              max_supply=mk.max_supply)
            guard = DefenseGuard.from_config(self.ledger, symbol, self.scenario.market, max_supply=mk.max_supply,
                                             alert=self.defense_alerts.append)
            self.curves[symbol] = BondingCurve(self.ledger, symbol, cfg, guard=guard)
        self.sellers.append(seller)
        seller.start(0.0)

    def _people(self) -> None:
        pop, r = self.pop, self.random
        mk = pop.market
        for i in range(mk.shoppers if self.sellers else 0):
            Shopper(self, f"shopper{i + 1}").start(r.random() * DAY)
        self.traders: list[Trader] = []  # whales too
        for i in range(mk.traders if self.sellers else 0):
            self._trader(Trader(self, f"trader{i + 1}", mk.trader_budget_coins))
        for i in range(mk.whales if self.sellers else 0):
            self._trader(Whale(self, f"whale{i + 1}", mk.whale_budget_coins))
        for i in range(pop.pump.rings if self.sellers else 0):
            PumpRing(self, f"ring{i + 1}").start(r.random() * 3600)
        for i in range(pop.pump.followers if pop.pump.rings and self.sellers else 0):
            Follower(self, f"follower{i + 1}").start(r.random() * DAY)
        for i in range(pop.sybil.farmers):
            SybilFarmer(self, f"sybil{i + 1}").start(r.random() * DAY)
        self.env.process(self._arrivals())

    def _trader(self, trader: Trader) -> None:
        """Start a trader: at its arrival time, or at once if it is in the source's state."""
        trader.start(self._arrival_time(trader.account))
        self.traders.append(trader)

    def _arrival_time(self, account: str | None = None) -> float:
        """``initial_share`` of arrivals on the first day, the rest uniformly over the
        horizon; an agent whose account is ``present`` in the source's state is already
        here (0: it goes on at once)."""
        if account is not None and account in self.present:
            return 0.0
        r, pop = self.random, self.pop
        return r.random() * DAY * (1 if r.random() < pop.initial_share else pop.days)

    def _arrivals(self) -> Any:
        """Users: ``initial_share`` during the first day, the rest uniformly over the
        horizon. Agents are created when they arrive."""
        pop, r, env = self.pop, self.random, self.env
        n0 = int(pop.users * pop.initial_share)
        times = sorted([r.random() * DAY for _ in range(n0)]
                       + [r.random() * pop.days * DAY for _ in range(pop.users - n0)])
        bet_share = pop.betting.bettors_share
        for i, t in enumerate(times):
            if t > env.now:
                yield env.timeout(t - env.now)
            agent = User(self, f"u{self.uid_offset + i + 1}", bettor=r.random() < bet_share)
            self.users.append(agent)
            if agent.bettor:
                self.bettors.append(agent)
            env.process(agent.life(0.0))

    def _house(self) -> Any:
        """Each day at midnight: yesterday's closes, new pools, resolutions, challenge results."""
        env, r = self.env, self.random
        b = self.pop.betting
        economy = self.economy
        while True:
            for sym in self.brand_coins:
                self.prev_close[sym] = self.price(sym)
            if self.exchange is not None:
                self.exchange.advance()
            now = env.now
            while self.pool_ends and self.pool_ends[0][0] <= now:
                _, pid = self.pool_ends.pop(0)
                self.open_pools.remove(pid)
                res = economy.pools.resolve(pid, "yes" if r.random() < 0.5 else "no")
                self.count("pools_resolved")
                staked: dict[User, int] = defaultdict(int)
                for user, amount in self.stakers.pop(pid, ()):
                    staked[user] += amount
                for user, amount in staked.items():
                    user.won_or_lost(res.payouts.get(user.uid, amount if not res.payouts else 0) - amount)
            if self.bettors or self.pop.sybil.farmers and self.config.phase2.daily_bonus_requires_stake:
                for _ in range(b.pools_per_day):
                    self.pool_seq += 1
                    pid = f"pool{self.pool_seq}"
                    economy.pools.create(pid, f"Claim {self.pool_seq}", ("yes", "no"))
                    self.open_pools.append(pid)
                    self.pool_ends.append((now + b.pool_days * DAY, pid))
            keep = []
            for opened, hold_id, challenger, opponent in self.challenges_open:
                if now - opened < DAY:
                    keep.append((opened, hold_id, challenger, opponent))
                    continue
                if opponent == challenger.uid:
                    economy.challenges.cancel(hold_id)
                    continue
                win = r.random() < 0.4  # challengers win less often than belt holders
                winner, loser = (challenger.uid, opponent) if win else (opponent, challenger.uid)
                tx = economy.challenges.settle(hold_id, winner, loser)
                got = sum(e.amount for e in tx.entries if e.to_account == challenger.account)
                challenger.won_or_lost(got - self.economy.challenges.entry_fee(self.pop.betting.belt_value))
                self.count("challenges_settled")
            self.challenges_open = keep
            yield env.timeout(DAY)

    def _sample_market(self) -> Any:
        """Every hour, per coin: the relative spread (bps of the mid) and the depth within
        2% of the mid (COIN value of the resting orders, or what moving a curve 2% up and
        down would cost and pay). Sums and counts in ``market_samples``."""
        env = self.env
        while True:
            yield env.timeout(3600.0)
            for sym, acc in self.market_samples.items():
                spread, depth = self.spread_and_depth(sym)
                if spread is not None:
                    acc[0] += spread
                    acc[1] += 1
                acc[2] += depth
                acc[3] += 1

    def spread_and_depth(self, symbol: str) -> tuple[int | None, int]:
        """(spread in bps of the mid or None with a side empty, COIN depth within 2% of the mid)."""
        if self.exchange is not None:
            book = self.exchange.book(symbol)
            bid, ask = book.best_bid(), book.best_ask()
            spread = None
            if bid is not None and ask is not None:
                spread = (ask - bid) * 20_000 // (ask + bid)
                mid2 = ask + bid  # twice the mid: integers throughout
            else:
                mid2 = 2 * self.exchange.last_price(symbol)
            depth = 0
            for price, level in book.bids.items():
                if price * 200 >= mid2 * 98:
                    depth += price * sum(o.remaining for o in level)
            for price, level in book.asks.items():
                if price * 200 <= mid2 * 102:
                    depth += price * sum(o.remaining for o in level)
            return spread, depth
        curve = self.curves[symbol]
        cfg, supply = curve.config, curve.supply
        spot = cfg.price(supply)
        try:
            buy1, sell1 = curve.quote_buy(1).total, curve.quote_sell(1).total if supply >= 1 else None
        except (CurveError, ValueError):
            return None, 0
        spread = None if sell1 is None else int((buy1 - sell1) * 10_000 / spot)
        slope = cfg.slope + 2 * cfg.quad * supply
        q = int(spot * Fraction(2, 100) / slope) if slope else 0
        depth = 0
        # a side the curve cannot quote (past max supply, nothing to sell back) adds no depth
        with contextlib.suppress(CurveError, ValueError):
            if q > 0:
                depth += curve.quote_buy(q).amount
            if min(q, supply) > 0:
                depth += curve.quote_sell(min(q, supply)).amount
        return spread, depth

    # -- market helpers the agents use ---------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def count_of(self, name: str) -> int:
        return self.counts.get(name, 0)

    def _on_trade(self, trade: Trade) -> None:
        self.candles.add(trade)
        self.counts["trades"] += 1
        self.counts["trade_volume_coin"] += trade.quote
        roles = self.roles
        if roles.get(trade.buyer) not in ADVERSARIES and roles.get(trade.seller) not in ADVERSARIES:
            self.counts["honest_volume_coin"] += trade.quote
        for alert in self.detector.observe(trade):
            self.detector_alerts.append(alert)

    def price(self, symbol: str) -> int:
        if self.exchange is not None:
            return self.exchange.last_price(symbol)
        return max(1, int(self.curves[symbol].spot_price()))

    def place(self, symbol: str, account: str, side: str, qty: int, price: int, *, ioc: bool = False,
              days: float | None = None) -> Order | None:
        """A limit order on the book: IOC, GTD for ``days``, or GTC."""
        ex = self.exchange
        if ex is None or qty <= 0:
            return None
        tif, expires = ("IOC", None) if ioc else ("GTD", self.clock() + timedelta(days=days)) if days else ("GTC", None)
        try:
            order = ex.submit(symbol, account, side, qty, price, tif=tif, expires_at=expires)
        except LedgerError as err:
            self.count(f"order_error:{type(err).__name__}")
            return None
        self.orders.append(order)
        if order.status == OrderStatus.REJECTED:
            self.count(f"order_rejected:{order.reason}")
        return order

    def buy(self, symbol: str, account: str, budget: int, limit: int, *, ioc: bool = False,
            days: float | None = None) -> None:
        """Spend up to ``budget`` COIN (fees included) on ``symbol`` at no more than ``limit``."""
        if budget <= 0:
            return
        if self.exchange is not None:
            fee_bps = max(self.scenario.market.maker_fee_bps, self.scenario.market.taker_fee_bps)
            qty = budget * 10_000 // (limit * (10_000 + fee_bps))
            self.place(symbol, account, BUY, qty, limit, ioc=ioc, days=days)
            return
        try:
            fill = self.curves[symbol].buy_for(account, budget)
        except (CurveError, LedgerError, ValueError) as err:
            self.count(f"curve_refused:{type(err).__name__}")
            return
        self._curve_fill(fill)

    def sell(self, symbol: str, account: str, qty: int, limit: int, *, ioc: bool = False,
             days: float | None = None) -> None:
        if qty <= 0:
            return
        if self.exchange is not None:
            self.place(symbol, account, SELL, qty, limit, ioc=ioc, days=days)
            return
        curve = self.curves[symbol]
        qty = min(qty, curve.outstanding(account))  # the curve buys back only coins it issued
        if qty <= 0:
            return
        try:
            fill = curve.sell(account, qty)
        except (CurveError, LedgerError, ValueError) as err:
            self.count(f"curve_refused:{type(err).__name__}")
            return
        self._curve_fill(fill)

    def _curve_fill(self, fill: Any) -> None:
        for t in fill.trades:
            self.curve_tape.append(t)
            self._on_trade(t)

    def earn(self, symbol: str, account: str, cents: int) -> int:
        if self.exchange is not None:
            return self.exchange.earn(symbol, account, cents)
        return coin_ops.earn(self.ledger, self.brand_coins[symbol], account, cents,
                             coins_per_usd=self.scenario.market.earn_coins_per_usd)

    def redeem(self, symbol: str, account: str, qty: int) -> int:
        if self.exchange is not None:
            return self.exchange.redeem(symbol, account, qty)
        return coin_ops.redeem(self.ledger, self.brand_coins[symbol], account, qty, self.price(symbol))

    @property
    def tape(self) -> list[Trade]:
        return self.exchange.trades if self.exchange is not None else self.curve_tape

    # -- the day ---------------------------------------------------------------------------
    def step(self) -> None:
        # No automatic collection while a day runs: a day allocates hundreds of thousands of
        # entries that all live on (the journal), and the collector's passes over them found
        # no garbage while they took ~19% of the CPU at 100k users (gc callbacks: 14.3 of
        # 74.5 s over 120 days). The simulation makes no reference cycles (a test holds it
        # to that), so reference counting frees everything; the caller's setting comes back
        # after the day.
        if self.backend is not None:  # HTTP clients: their cycles are not ours to vouch for
            self.env.run(until=self.steps * DAY)
            return
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.steps * DAY)
        finally:
            if enabled:
                gc.enable()
        # The journal only grows and is never garbage: keep the cyclic collector from
        # re-scanning millions of entries every few thousand allocations.
        gc.freeze()
        self._record_day()
        self.datacollector.collect(self)
        if self.check_each_day:
            self.assert_invariants()
        if self.ledger.store.end_of_day():  # type: ignore[attr-defined]
            self._journal_seen = 0  # read up to here by _record_day, now on disk

    def run_days(self, days: int | None = None) -> None:
        for _ in range(days or self.pop.days):
            self.step()

    def user_balances(self, asset: str = "COIN") -> list[int]:
        return [b for (acct, a), b in self.ledger.store.book.balances.items()  # type: ignore[attr-defined]
                if a == asset and acct.startswith("user:")]

    def _flows_today(self) -> dict[str, int]:
        """COIN issued and burned by entry type since the last call (one pass over the
        journal's new entries), added to ``issued_by_type`` / ``burned_by_type``."""
        journal = self.ledger.store.book.journal  # type: ignore[attr-defined]
        issued: dict[str, int] = defaultdict(int)
        burned: dict[str, int] = defaultdict(int)
        roles, to_sybils = self.roles, 0
        for e in journal[self._journal_seen:]:
            if e.asset == "COIN":
                if e.from_account == MINT:
                    issued[e.entry_type] += e.amount
                    if roles.get(e.to_account) == "sybil":
                        to_sybils += e.amount
                elif e.to_account == BURN:
                    burned[e.entry_type] += e.amount
        self._journal_seen = len(journal)
        self.counts["sybil_issued"] += to_sybils
        for k, v in issued.items():
            self.issued_by_type[k] += v
        for k, v in burned.items():
            self.burned_by_type[k] += v
        bought, bonus = issued.get(PURCHASED, 0), issued.get(BONUS, 0)
        return {"free_issued_today": sum(issued.values()) - bought - bonus, "purchased_issued_today": bought,
                "bonus_issued_today": bonus, "house_burn_today": burned.get("HOUSE_FEE_BURN", 0),
                "dust_burn_today": burned.get("DUST_BURN", 0)}

    def _record_day(self) -> None:
        ledger, c, last = self.ledger, self.counts, self._last
        issued, burned = -ledger.balance(MINT), ledger.balance(BURN)
        revenue = ledger.balance(PLATFORM, "USD")
        day = self.steps
        conc = day % self.pop.concentration_every_days == 0 or day == self.pop.days
        gini_, top1 = concentration(self.user_balances()) if conc else (None, None)
        t = {
            "day": (self.clock.start + timedelta(days=day - 1)).date(),
            "issued": issued, "burned": burned, "circulating": issued - burned,
            "issued_today": issued - last["issued"], "burned_today": burned - last["burned"],
            "platform_coin": ledger.balance(PLATFORM), "revenue_cents": revenue,
            "revenue_cents_today": revenue - last["revenue"],
            "users": c["arrivals"], "arrivals_today": c["arrivals"] - last["arrivals"],
            "logins_today": self.logins_today, "checkouts_today": c["checkouts"] - last["checkouts"],
            "trades_today": c["trades"] - last["trades"],
            "trade_volume_coin_today": c["trade_volume_coin"] - last["volume"],
            "defense_alerts_today": len(self.defense_alerts) - last["defense"],
            "detector_alerts_today": len(self.detector_alerts) - last["detector"],
            "sybil_farmed": c["sybil_farmed"],
            "gini": gini_, "top1_share": top1,
            **self._flows_today(),
            "honest_volume_coin_today": c["honest_volume_coin"] - last["honest"],
        }
        self.today = t
        last.update(issued=issued, burned=burned, revenue=revenue, arrivals=c["arrivals"], checkouts=c["checkouts"],
                    trades=c["trades"], volume=c["trade_volume_coin"], defense=len(self.defense_alerts),
                    detector=len(self.detector_alerts), honest=c["honest_volume_coin"])
        self.logins_today = 0

    def assert_invariants(self) -> None:
        """The ledger's check (journal replays to the balances, per-asset zero sum, holds
        match escrow) and no negative balance outside the accounts allowed one."""
        report = self.ledger.check()
        assert report.ok, f"day {self.steps}: ledger check failed: {report.problems[:5]}"
        store = self.ledger.store
        neg_ok = store.negative_allowed()
        bad = [(a, s, b) for a, s, b in store.stored_balances() if b < 0 and a not in neg_ok]
        assert not bad, f"day {self.steps}: negative balances {bad[:5]}"

    def agents_of(self, cls: type[SimAgent]) -> list[SimAgent]:
        return list(self.agents_by_type.get(cls, []))
