"""The simulator's agents: Mesa agents whose lives are SimPy processes.

Each agent's ``life`` is a generator that sleeps (``yield env.timeout(...)``) until its
next action, so an idle user costs nothing. Agents act only through the real code the
model hands them: `EconomyRules` (earn, spend), `Payments` (checkout; Stripe's
webhooks come back through the real handler), `Pools` / `Challenges`, the market's
`Exchange` or `BondingCurve`. A refusal (insufficient funds, a frozen account, a
defense) is a normal outcome: the agent notes it and moves on.

Time is in seconds of simulated time (``DAY`` = 86400); all randomness comes from the
model's seeded ``random.Random``, except a user's: each `User` has its own stream,
seeded by the run's seed and its id (common random numbers across runs).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import weakref
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import mesa

from ledger.economy.errors import NotEligible, PromoRejected
from ledger.errors import AccountFrozen, InsufficientFunds, LedgerError
from market.book import BUY, SELL

from .behaviour import Traits, choose_package, churn_hazard, draw_traits, next_event, session_chance

if TYPE_CHECKING:
    from .model import EconomyModel

__all__ = [
    "DAY",
    "Follower",
    "PumpRing",
    "Seller",
    "Shopper",
    "SimAgent",
    "SybilFarmer",
    "Trader",
    "User",
    "Whale",
]

DAY = 86400.0
Life = Generator[Any, Any, None]


class _IdsPerModel(weakref.WeakKeyDictionary[Any, Iterator[int]]):
    """The next agent id of each model, as mesa.Agent._ids is, but holding the models
    weakly. Mesa 3.3 keys a plain defaultdict by model, which kept every model a process
    ever ran alive with its agents and journal: a calibration's worker grew by ~60 MB a
    3000-user design run and took ~10 s to exit at the end."""

    def __getitem__(self, model: Any) -> Iterator[int]:
        counter = self.get(model)
        if counter is None:
            counter = self[model] = itertools.count(1)
        return counter


class SimAgent(mesa.Agent):
    """An agent with a ledger account ``user:<uid>`` and a SimPy life."""

    role = "agent"
    model: EconomyModel
    _ids = _IdsPerModel()  # mesa's Agent.__init__ draws ``next(self._ids[model])``

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model)
        self.uid = uid
        self.account = f"user:{uid}"
        model.roles[self.account] = self.role

    def start(self, delay: float = 0.0) -> None:
        self.model.env.process(self.life(delay))

    def life(self, delay: float) -> Life:  # pragma: no cover - overridden
        yield self.model.env.timeout(delay)

    def coin_balance(self, asset: str = "COIN") -> int:
        return self.model.ledger.balance(self.account, asset)

    def buy_package(self, package_id: str, promo: str | None = None, *, is_pro: bool = False) -> bool:
        return checkout(self.model, self.uid, package_id, promo, is_pro=is_pro) is None


def checkout(model: EconomyModel, uid: str, package_id: str, promo: str | None = None, *,
             is_pro: bool = False) -> str | None:
    """Open a checkout through the real `Payments` and go pay on the simulated Stripe.
    Returns None, or the name of the error that refused it."""
    m = model
    m.checkout_seq += 1
    try:
        co = m.economy.payments.create_checkout(uid, package_id, promo_code=promo, is_pro=is_pro,
                                                key=f"sim{m.checkout_seq}")
    except PromoRejected:
        return checkout(model, uid, package_id, None, is_pro=is_pro)
    except LedgerError as err:  # the daily limit, an open checkout for it, ...
        m.count(f"checkout_refused:{type(err).__name__}")
        return type(err).__name__
    m.count("checkouts")
    m.stripe.pay(co.payment.session_id)
    return None


def fund(model: EconomyModel, uid: str, packages: int, package_id: str) -> Life:
    """Buy ``packages`` of one package, one checkout at a time (a second open checkout
    for the same package is refused), waiting for the next UTC day at the daily limit."""
    env = model.env
    left, tries = packages, 0
    while left > 0 and tries < 4 * packages + 8:
        tries += 1
        err = checkout(model, uid, package_id)
        if err is None:
            left -= 1
            yield env.timeout(1900)
        elif err == "PurchaseLimitExceeded":
            yield env.timeout((env.now // DAY + 1) * DAY + 60 - env.now)
        else:
            yield env.timeout(1900)


# -- users -----------------------------------------------------------------------------------
class User(SimAgent):
    """A user of the app, with latent traits (sim/behaviour.py) that decide how they
    respond to the economy: when they come back, what they want to do in a session,
    whether they buy coins for it, and when they leave.

    A session: claim the daily login (bettors place their stakes first, so the Phase-2
    rule can pay them), then act on the session's wants (votes, unlocks, stakes, belt
    challenges) through the real rules. A want the balance cannot cover leads to one
    purchase decision per session (`choose_package`); after a checkout the user waits
    for the coins and tries the rest again, and what still cannot be paid is given up."""

    role = "user"

    def __init__(self, model: EconomyModel, uid: str, *, bettor: bool = False) -> None:
        super().__init__(model, uid)
        # The user's own random stream: design runs and forecasts that differ only in a
        # parameter then give each user the same draws (common random numbers), so their
        # difference is the parameter's effect, not one shared stream diverging at the first
        # draw that differs and reshuffling every later user's life.
        self.stream = random.Random(f"{model.pop.seed}:{uid}")
        r = self.stream
        if bettor:
            self.role = "bettor"
            model.roles[self.account] = "bettor"
        self.bettor = bettor
        self.traits = draw_traits(model.behaviour, r)
        self.habit = r.random() * 0.9 * DAY  # the time of day this user tends to come
        self.joined = 0.0
        self.satisfaction = 0.0
        self.last_day = -1
        self.streak = 0
        self.sessions = 0
        self.purchases = 0
        self.p_rest = 0.5
        self.session_cost = self.want_cost()  # prices and traits are fixed for the run

    # -- the life ----------------------------------------------------------------------------
    def life(self, delay: float) -> Life:
        env = self.model.env
        yield env.timeout(delay)
        self.joined = env.now
        self.arrive()
        yield from self.carry_on(self.session())

    def carry_on(self, pending: list[Want] | None, today: float | None = None) -> Life:
        """Sessions until the churn. ``today``: the day the first gap counts from (a user
        resumed from a source's state counts from the source's last day, -1)."""
        m, env, r = self.model, self.model.env, self.stream
        timeout = env.timeout
        while True:
            if pending:
                yield timeout(WAIT_FOR_COINS)
                self.finish(pending)
            gap, churn = self.next_event()
            if churn:
                m.count("churned")
                del self.stream  # ~3 KB a user: a million users keep only the living ones' streams
                return
            now = env.now
            day = now // DAY if today is None else today
            today = None
            yield timeout((day + gap) * DAY + self.habit + r.random() * 0.1 * DAY - now)
            pending = self.session()

    def arrive(self) -> None:
        m, r, rules, b = self.model, self.stream, self.model.economy.rules, self.model.behaviour
        m.count("arrivals")
        got = _credited(rules.guest_initial(self.uid))
        if r.random() < b.signup_share:
            got += _credited(rules.signup_bonus(self.uid))
            if r.random() < b.newsletter_share:
                got += _credited(rules.newsletter_bonus(self.uid))
        self.rewarded(got)

    def session(self) -> list[Want] | None:
        """One session; returns the wants waiting on a purchase (None if none)."""
        m, b = self.model, self.model.behaviour
        day = int(m.env.now // DAY)
        if self.sessions:  # not the first session (a resumed user's last day may be < 0)
            self.satisfaction *= 0.5 ** ((day - self.last_day) / b.satisfaction_half_life_days)
        self.streak = self.streak + 1 if day == self.last_day + 1 else 1
        self.last_day = day
        self.sessions += 1
        m.logins_today += 1
        wants = self.wants(day)
        if self.bettor:  # stakes first: the Phase-2 daily bonus needs one placed today
            bets = [w for w in wants if w[0] != "claim"]
            wants = [w for w in wants if w[0] == "claim"]
            wants = self.act(bets) + wants if bets else wants
        try:
            res = m.economy.rules.daily_login(self.uid)
            self.rewarded(_credited(res.login) + _credited(res.streak))
        except NotEligible:
            m.count("daily_bonus_denied")
        except AccountFrozen:
            return None
        return self.act(wants) or None

    def wants(self, day: int) -> list[Want]:
        """What this session wants to do: ("claim", vote?, unlock?) per claim looked at,
        ("challenge",) a belt challenge, and ("stake",) for bettors while pools are open;
        rates scale with appetite and risk."""
        m, r, b, t = self.model, self.stream, self.model.behaviour, self.traits
        votes = _poisson(r, b.votes_per_session * t.appetite)
        unlocks = _poisson(r, b.unlocks_per_session * t.appetite)
        n = min(b.claims_per_day, max(votes, unlocks))
        out: list[Want] = [("claim", f"{day}.{i}", i < votes, i < unlocks) for i in range(n)]
        if r.random() < b.challenges_per_session * t.risk * t.appetite:
            out.append(("challenge",))
        if self.bettor and m.open_pools:
            out += [("stake",)] * _poisson(r, b.stakes_per_session * t.risk)
        return out

    def act(self, wants: list[Want], *, may_buy: bool = True) -> list[Want]:
        """Do each want the balance covers. At the first it cannot cover, decide once
        whether to buy coins: if so, the rest is returned to try after the purchase;
        if not, it and every later unaffordable want are given up."""
        done = given_up = 0
        for i, want in enumerate(wants):
            try:
                ok = self.do(want)
            except (InsufficientFunds, AccountFrozen, NotEligible):
                ok = False
            except LedgerError:
                ok = False
                self.model.count("want_refused")
            if ok:
                done += 1
                continue
            if may_buy and self.buy_coins():
                self.felt(done, given_up)
                return wants[i:]
            may_buy = False
            given_up += 1
        self.felt(done, given_up)
        return []

    def finish(self, pending: list[Want]) -> None:
        """After a purchase: the session's remaining wants, with whatever arrived."""
        self.act(pending, may_buy=False)

    def do(self, want: Want) -> bool:
        m, rules, uid = self.model, self.model.economy.rules, self.uid
        kind = want[0]
        if kind == "claim":
            _, claim, vote, unlock = want
            if vote:
                rules.vote(uid, claim)
                m.count("votes")
            if unlock:
                rules.unlock_deep_analysis(uid, claim)
                m.count("unlocks")
            return True
        if kind == "stake":
            return self.stake()
        return self.challenge()

    def stake(self) -> bool:
        m, r = self.model, self.stream
        cfg, b = m.config.pools, m.pop.betting
        pool = m.open_pools[r.randrange(len(m.open_pools))]
        balance = self.coin_balance()
        amount = min(cfg.max_stake_per_user, max(cfg.min_stake, int(balance * b.stake_share * (0.5 + self.traits.risk))))
        if amount > balance:
            return False
        outcome = "yes" if r.random() < 0.5 else "no"
        m.economy.pools.stake(pool, self.uid, outcome, amount, key=f"{pool}:{self.uid}:{int(m.env.now)}")
        m.stakers.setdefault(pool, []).append((self, amount))
        m.count("stakes")
        return True

    def challenge(self) -> bool:
        m, r = self.model, self.stream
        m.challenge_seq += 1
        cid = f"ch{m.challenge_seq}"
        hold = m.economy.challenges.open(cid, self.uid, m.pop.betting.belt_value)
        opponent = m.users[r.randrange(len(m.users))]  # a belt holder: any user so far
        m.challenges_open.append((m.env.now, hold.id, self, opponent.uid))
        m.count("challenges")
        return True

    # -- money -------------------------------------------------------------------------------
    def want_cost(self) -> float:
        """Coins a session's wants cost on average, at today's prices."""
        m, b, t = self.model, self.model.behaviour, self.traits
        spend = m.config.spend
        cost = t.appetite * (b.votes_per_session * spend.vote + b.unlocks_per_session * spend.deep_analysis_unlock
                             + b.challenges_per_session * t.risk * m.challenge_fee)
        if self.bettor:
            cost += b.stakes_per_session * t.risk * m.pop.betting.stake_share * 100
        return max(1.0, cost)

    def buy_coins(self) -> bool:
        """The purchase decision: a package (or nothing) by the logit; True if checked out."""
        m = self.model
        need = self.session_cost * self.p_rest * m.behaviour.need_days
        if package_decision(m, self.uid, self.traits, need, first=self.purchases == 0, r=self.stream):
            self.purchases += 1
            return True
        m.count("no_package_bought")
        return False

    # -- feelings ------------------------------------------------------------------------------
    def rewarded(self, coins: int) -> None:
        if coins > 0:
            b = self.model.behaviour
            self.satisfaction += (b.joy_reward * self.traits.reward_sensitivity
                                  * math.log1p(coins / b.reward_scale_coins))

    def felt(self, done: int, given_up: int) -> None:
        b = self.model.behaviour
        self.satisfaction += b.joy_fulfilled * math.log1p(done) - b.pain_given_up * math.log1p(given_up)
        if given_up:
            self.model.count("wants_given_up", given_up)

    def won_or_lost(self, net: int) -> None:
        """A bet settled: ``net`` coins won (> 0) or lost (< 0); losses weigh 2.25x gains
        (loss aversion, Tversky & Kahneman 1992)."""
        pain = self.model.behaviour.pain_loss * math.log1p(abs(net) / 100.0)
        self.satisfaction += pain / LOSS_AVERSION if net > 0 else -pain

    # -- when next -----------------------------------------------------------------------------
    def next_event(self) -> tuple[int, bool]:
        m, b, t = self.model, self.model.behaviour, self.traits
        rw = m.config.rewards
        login = rw.daily_login
        if m.config.phase2.daily_bonus_requires_stake and not self.bettor:
            login = 0
        completes = (self.streak + 1) % rw.streak_days == 0 and login > 0
        first_pay = login + (rw.streak_bonus if completes else 0)
        rest_pay = login + (rw.streak_bonus / rw.streak_days if login > 0 else 0.0)
        affordable = min(1.0, self.coin_balance() / self.session_cost)
        age = (m.env.now - self.joined) / DAY
        p_first = session_chance(b, t, pay=first_pay, affordable=affordable, age_days=age)
        self.p_rest = p_rest = session_chance(b, t, pay=rest_pay, affordable=affordable, age_days=age)
        return next_event(self.stream, p_first, p_rest, churn_hazard(b, self.satisfaction))


WAIT_FOR_COINS = 1800.0  # seconds a buyer waits for a purchase's coins before going on
LOSS_AVERSION = 2.25
Want = tuple[Any, ...]


def _credited(tx: Any) -> int:
    """Coins a reward transaction paid (0 for None or a replay)."""
    if tx is None or tx.replayed:
        return 0
    return sum(e.amount for e in tx.entries)


def _poisson(r: Any, lam: float) -> int:
    """A Poisson draw (Knuth's method; the rates here are small)."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        return max(0, int(r.gauss(lam, math.sqrt(lam)) + 0.5))
    limit, k, p = math.exp(-lam), 0, r.random()
    while p > limit:
        k += 1
        p *= r.random()
    return k


def package_options(model: EconomyModel, *, first: bool, is_pro: bool, promo_ok: bool) -> list[tuple[Any, int, int]]:
    """``((package id, promo), coins, price)`` for every active package, the coins
    counting the PRO bonus and (on a first purchase, if the user takes it) FIRST50."""
    cfg = model.config
    first50 = cfg.promos.get("FIRST50")
    promo = "FIRST50" if first and promo_ok and first50 is not None and first50.active else None
    out = []
    for pkg in model.packages:
        coins = pkg.total_coins
        if promo is not None:
            coins += pkg.base_coins * first50.bonus_bps // 10_000 + first50.bonus_coins  # type: ignore[union-attr]
        if is_pro:
            coins += pkg.base_coins * cfg.purchases.pro_bonus_bps // 10_000
        out.append(((pkg.id, promo), coins, pkg.price_cents))
    return out


def package_decision(model: EconomyModel, uid: str, traits: Traits, need: float, *, first: bool,
                     r: random.Random) -> bool:
    """Choose a package by the logit (or nothing), drawing from ``r``, and check it out;
    True if checked out."""
    b = model.behaviour
    options = package_options(model, first=first, is_pro=traits.is_pro, promo_ok=r.random() < b.promo_uptake)
    choice = choose_package(r, options, traits.wtp_cents, need, b.price_sensitivity, b.need_discount)
    if choice is None:
        return False
    return checkout(model, uid, choice[0], choice[1], is_pro=traits.is_pro) is None


def refill(model: EconomyModel, uid: str, traits: Traits, target: int) -> Life:
    """Buy coins until the balance reaches ``target`` or the user declines: one checkout
    at a time, each chosen by the logit against what is still missing; at the daily
    purchase limit, wait for the next UTC day."""
    env, ledger = model.env, model.ledger
    account = f"user:{uid}"
    first = True
    for _ in range(64):
        missing = target - ledger.balance(account)
        if missing <= 0:
            return
        b, r = model.behaviour, model.random
        options = package_options(model, first=first, is_pro=traits.is_pro, promo_ok=r.random() < b.promo_uptake)
        choice = choose_package(r, options, traits.wtp_cents, missing, b.price_sensitivity, b.need_discount)
        if choice is None:
            model.count("no_package_bought")
            return
        err = checkout(model, uid, choice[0], choice[1], is_pro=traits.is_pro)
        first = False
        if err == "PurchaseLimitExceeded":
            yield env.timeout((env.now // DAY + 1) * DAY + 60 - env.now)
        else:
            yield env.timeout(WAIT_FOR_COINS)


# -- brand coins ------------------------------------------------------------------------------
class Seller(SimAgent):
    """A shop with a brand coin. Sales come from shoppers in proportion to ``demand``,
    which good reviews raise; vested coins are offered on the book a little above the
    price (the seller's own market making)."""

    role = "seller"

    def __init__(self, model: EconomyModel, uid: str, symbol: str) -> None:
        super().__init__(model, uid)
        r = model.random
        self.symbol = symbol
        self.quality = r.uniform(2.5, 4.8)  # stars a typical review gives
        self.base_demand = math.exp(r.gauss(0.0, 0.8))
        self.good_reviews = 0
        self.sales_cents = 0

    @property
    def demand(self) -> float:
        return self.base_demand * (1.0 + self.model.pop.market.review_boost * math.log1p(self.good_reviews))

    def fair_value(self) -> int:
        """What value traders think a coin is worth, in COIN (integer ticks)."""
        p = self.model.pop.market.initial_price
        return max(1, int(p * (self.quality / 3.5) * (1.0 + 0.1 * math.log1p(self.good_reviews))))

    def sold(self, cents: int) -> None:
        m, r = self.model, self.model.random
        self.sales_cents += cents
        if r.random() < m.pop.market.review_share and r.gauss(self.quality, 1.0) >= 4.0:
            self.good_reviews += 1

    def life(self, delay: float) -> Life:
        m, env = self.model, self.model.env
        yield env.timeout(delay)
        if m.exchange is None:
            return
        while True:
            yield env.timeout(DAY)
            with contextlib.suppress(LedgerError):
                m.exchange.release_vested(self.symbol)
            free = self.coin_balance(self.symbol)
            if free > 0:
                price = m.exchange.last_price(self.symbol)
                m.place(self.symbol, self.account, SELL, max(1, free // 20), price * 105 // 100 + 1, days=1.0)


class Shopper(SimAgent):
    """Buys at shops (earning their brand coins), redeems them, or sells them."""

    role = "shopper"

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        mk = m.pop.market
        yield env.timeout(delay)
        if not m.sellers or mk.shop_rate_per_day <= 0:
            return
        mu = math.log(mk.purchase_cents_median)
        while True:
            yield env.timeout(r.expovariate(mk.shop_rate_per_day) * DAY)
            seller = r.choices(m.sellers, weights=[s.demand for s in m.sellers])[0]
            cents = max(100, int(r.lognormvariate(mu, 0.6)))
            try:
                m.earn(seller.symbol, self.account, cents)
            except LedgerError:
                m.count("earn_refused")
                continue
            seller.sold(cents)
            held = self.coin_balance(seller.symbol)
            if held <= 0:
                continue
            roll = r.random()
            if roll < mk.redeem_share:
                try:
                    m.redeem(seller.symbol, self.account, held)
                except LedgerError:
                    m.count("redeem_refused")
            elif roll < mk.redeem_share + mk.sell_share and m.exchange is not None:
                price = m.exchange.last_price(seller.symbol)
                m.place(seller.symbol, self.account, SELL, held, max(1, price * 98 // 100), days=3.0)


class Trader(SimAgent):
    """Trades brand coins on momentum (yesterday's close vs now) or value (the seller's
    fair value), with COIN bought through Stripe when the balance falls under a fifth
    of the budget (the package chosen by the logit, like every user's)."""

    role = "trader"
    budget_share = 0.1

    def __init__(self, model: EconomyModel, uid: str, budget: int) -> None:
        super().__init__(model, uid)
        self.budget = budget
        self.momentum = model.random.random() < model.pop.market.momentum_share
        self.traits = draw_traits(model.behaviour, model.random, wtp_median_cents=model.behaviour.trader_wtp_cents)
        # set by `sim.forecast` for a resumed trader stopped by the daily purchase limit
        # when the source's day ended: it finishes its refill
        self.refilling = False

    @property
    def resumed(self) -> bool:
        """In a source's state (`sim.forecast`): funded already, it buys again only when
        the balance falls under a fifth of the budget, or if it was ``refilling``."""
        return self.account in self.model.present

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        yield env.timeout(delay)
        if not self.resumed or self.refilling:
            yield from refill(m, self.uid, self.traits, self.budget)
        self.refilling = False
        if not m.sellers:
            return
        while True:
            yield env.timeout(r.expovariate(m.pop.market.trades_per_day) * DAY)
            if self.coin_balance() < self.budget // 5:
                yield from refill(m, self.uid, self.traits, self.budget)
            seller = m.sellers[r.randrange(len(m.sellers))]
            self.trade(seller)

    def trade(self, seller: Seller) -> None:
        m = self.model
        sym = seller.symbol
        price = m.price(sym)
        held = self.coin_balance(sym)
        budget = int(self.coin_balance() * self.budget_share)
        if self.momentum:
            ref = m.prev_close.get(sym, price)
            if price * 100 > ref * 103:
                m.buy(sym, self.account, budget, price * 103 // 100 + 1, ioc=True)
            elif price * 100 < ref * 97 and held > 0:
                m.sell(sym, self.account, held // 2 or held, max(1, price * 97 // 100), ioc=True)
        else:
            fair = seller.fair_value()
            # a standing bargain bid well under fair value: the liquidity a dump runs into
            m.buy(sym, self.account, budget // 4, max(1, fair * 85 // 100), days=1.0)
            if price * 10 < fair * 9:
                m.buy(sym, self.account, budget, min(fair, price + max(1, price // 50)), days=1.0)
            elif price * 10 > fair * 11 and held > 0:
                m.sell(sym, self.account, held // 2 or held, max(fair, price - max(1, price // 50)), days=1.0)


class Whale(Trader):
    """A trader with a deep pocket and a value strategy."""

    role = "whale"
    budget_share = 0.3

    def __init__(self, model: EconomyModel, uid: str, budget: int) -> None:
        super().__init__(model, uid, budget)
        self.momentum = False


# -- manipulation -------------------------------------------------------------------------------
class PumpRing(SimAgent):
    """A ring of accounts against the coin with the least demand, by one of three
    strategies (``population.pump.strategy``): accumulate quietly, then

    - ``hype_dump``: hype it to followers, sell into their buying, dump the rest;
    - ``wash_ladder``: walk the last price up with tiny trades between members (one
      member's small ask, another's buy at it), hype, sell into the followers and redeem
      what is left at the shop at the price the ladder set;
    - ``spoof``: rest large buy walls a few percent under the price (a book that looks
      bid keeps followers in), sell into the followers, cancel each wall before the price
      comes down to it, then dump."""

    role = "ring"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        p = model.pop.pump
        self.members = [f"user:{uid}m{i}" for i in range(p.members)]
        for acct in self.members:
            model.roles[acct] = "ring"
        self.target: str | None = None
        self.walls: list[Any] = []

    def life(self, delay: float) -> Life:
        m, env = self.model, self.model.env
        p = m.pop.pump
        yield env.timeout(delay)
        for acct in self.members:  # funding: each member buys packages through Stripe
            env.process(fund(m, acct.split(":", 1)[1], p.packages_each, "xl"))
        yield env.timeout(max(0.0, p.start_day * DAY - env.now))
        if not m.sellers:
            return
        self.target = sym = min(m.sellers, key=lambda s: s.demand).symbol
        m.ring_targets.add(sym)
        yield from self.accumulate(sym)
        if p.strategy == "wash_ladder":
            yield from self.wash_ladder(sym)
        m.hype[sym] = env.now + p.hype_days * DAY  # tell the followers
        m.count("hype_started")
        if p.strategy == "spoof":
            m.env.process(self.spoof(sym, m.hype[sym]))
        yield from self.sell_into_hype(sym)
        if p.strategy == "wash_ladder":
            self.redeem_rest(sym)
        yield from self.dump(sym)

    def accumulate(self, sym: str) -> Life:
        """Every ~2 hours a member takes what is offered up to 5% above the price."""
        m, env, r = self.model, self.model.env, self.model.random
        p = m.pop.pump
        steps = max(1, int(p.accumulate_days * 12))
        budget = int(sum(m.ledger.balance(a, "COIN") for a in self.members) * p.accumulate_share) // steps
        for _ in range(steps):
            yield env.timeout(p.accumulate_days * DAY / steps)
            acct = self.members[r.randrange(len(self.members))]
            price = m.price(sym)
            m.buy(sym, acct, min(budget, m.ledger.balance(acct, "COIN")), price * 105 // 100 + 1, ioc=True)

    def wash_ladder(self, sym: str) -> Life:
        """Tiny trades between two members, each rung above the last price: the tape shows
        a rally nobody outside the ring paid for."""
        m, env, r = self.model, self.model.env, self.model.random
        p = m.pop.pump
        if len(self.members) < 2:
            return
        for _ in range(p.wash_rungs):
            yield env.timeout(120.0)
            seller, buyer = r.sample(self.members, 2)
            if m.ledger.balance(seller, sym) <= 0:
                seller, buyer = buyer, seller
            if m.ledger.balance(seller, sym) <= 0:
                continue
            price = m.price(sym)
            rung = price * (10_000 + p.wash_step_bps) // 10_000 + 1
            # the buy lifts the (few) outside offers under the rung, then the member's own
            outside = 0
            if m.exchange is not None:
                outside = sum(lv.quantity for lv in m.exchange.book(sym).depth(SELL, 20) if lv.price <= rung)
            ask = m.exchange.book(sym).best_ask() if m.exchange is not None else None
            if ask is not None and price + 1 < ask <= rung:  # room under the outside offers: trade there
                rung, outside = ask - 1, 0
            m.place(sym, seller, SELL, 1, rung, days=0.1)
            m.count("wash_rungs")
            trades = len(m.tape)
            budget = min(rung * (outside + 2), m.ledger.balance(buyer, "COIN") // 10)
            m.buy(sym, buyer, budget, rung, ioc=True)
            if any(t.seller == seller and t.buyer == buyer for t in m.tape[trades:]):
                m.count("wash_trades")

    def spoof(self, sym: str, until: float) -> Life:
        """Keep a buy wall under the price while the hype lasts; cancel it whenever the
        price comes within 1% of it (it must never fill), re-post a few minutes later."""
        m, env = self.model, self.model.env
        p = m.pop.pump
        ex = m.exchange
        if ex is None:
            return
        while env.now < until:
            price = m.price(sym)
            for w in list(self.walls):
                if not w.is_open:
                    self.walls.remove(w)
                elif price * 100 <= w.price * 101 or w.price * 100 < price * 95:
                    self._cancel(w)  # about to fill, or left behind by the rise: move it up
            if not self.walls:
                acct = self.members[m.count_of("spoof_walls") % len(self.members)]
                budget = int(m.ledger.balance(acct, "COIN") * p.wall_share)
                wall_price = max(1, price * 97 // 100)
                before = len(m.orders)
                m.buy(sym, acct, budget, wall_price, days=1.0)
                if len(m.orders) > before and m.orders[-1].is_open:
                    self.walls.append(m.orders[-1])
                    m.count("spoof_walls")
            yield env.timeout(300.0)
        for w in list(self.walls):
            self._cancel(w)

    def _cancel(self, order: Any) -> None:
        m = self.model
        with contextlib.suppress(LedgerError):  # it filled or expired first: nothing to cancel
            m.exchange.cancel(order.id)  # type: ignore[union-attr]
            m.count("spoof_cancels")
        if order in self.walls:
            self.walls.remove(order)

    def sell_into_hype(self, sym: str) -> Life:
        m, env = self.model, self.model.env
        p = m.pop.pump
        steps = max(1, int(p.hype_days * 24))
        for i in range(steps):  # sell into the followers' demand, on a rising ladder
            yield env.timeout(p.hype_days * DAY / steps)
            price = m.price(sym)
            for k, acct in enumerate(self.members):  # each member one rung of the ladder
                held = m.ledger.balance(acct, sym)
                if held > 0:
                    # just above the last price, where the followers' buying meets it
                    rung = price * (100 + k) // 100 + 1
                    m.sell(sym, acct, max(1, held // max(1, (steps - i) // 4)), rung, days=0.5)

    def redeem_rest(self, sym: str) -> None:
        """Spend what is left at the shop, valued at the price the ring set (or at the
        market's manipulation-resistant reference, where it has one)."""
        m = self.model
        for acct in self.members:
            held = m.ledger.balance(acct, sym)
            if held > 0:
                try:
                    m.count("ring_redeem_value", m.redeem(sym, acct, held))
                except LedgerError:
                    m.count("redeem_refused")

    def dump(self, sym: str) -> Life:
        m, env = self.model, self.model.env
        for w in list(self.walls):
            self._cancel(w)
        for left in range(24, 0, -1):  # dump the rest over a day, into whatever bids there are
            yield env.timeout(3600)
            for acct in self.members:
                held = m.ledger.balance(acct, sym)
                if held > 0:
                    m.sell(sym, acct, max(1, held // left), max(1, m.price(sym) * 60 // 100), ioc=True)


class Follower(SimAgent):
    """Reads the ring's hype and (by their hype susceptibility) buys in; sells in panic
    when the price falls far below what they paid, and sells what is left
    ``follower_exit_days`` after the hype ended (the hype is over: they go, taking their
    gain or loss). The pump-and-dump's victims."""

    role = "follower"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        self.traits = draw_traits(model.behaviour, model.random, wtp_median_cents=model.behaviour.trader_wtp_cents)

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        p = m.pop.pump
        yield env.timeout(delay)
        if self.account not in m.present:  # a follower in a source's state was funded there
            yield from refill(m, self.uid, self.traits, p.follower_budget_coins)
        paid: dict[str, int] = {}
        while True:
            yield env.timeout(r.expovariate(p.follower_checks_per_day) * DAY)
            for sym, until in list(m.hype.items()):
                if env.now < until and sym not in paid and r.random() < self.traits.hype:
                    price = m.price(sym)
                    spent_before = self.coin_balance()
                    m.buy(sym, self.account, spent_before * 8 // 10, price * 130 // 100 + 1, ioc=True)
                    got = self.coin_balance(sym)
                    if got:
                        paid[sym] = max(1, (spent_before - self.coin_balance()) // got)
            for sym, cost in list(paid.items()):
                held = self.coin_balance(sym)
                if held <= 0:
                    continue
                price = m.price(sym)
                if price * 100 < cost * (100 - int(p.panic_loss * 100)):
                    if env.now < m.hype[sym] and self.looks_bid(sym, price):
                        m.count("panic_held_by_bids")  # a bid-heavy book says the dip will be bought
                        continue
                    m.sell(sym, self.account, held, max(1, price * 80 // 100), ioc=True)
                    m.count("panic_sells")
                elif env.now > m.hype[sym] + p.follower_exit_days * DAY:
                    m.sell(sym, self.account, held, max(1, price * 80 // 100), ioc=True)
                    m.count("follower_exits")


    def looks_bid(self, sym: str, price: int) -> bool:
        """Twice as many coins bid within 5% under the price as offered within 5% over it."""
        ex = self.model.exchange
        if ex is None:
            return False
        book = ex.book(sym)
        bids = sum(lv.quantity for lv in book.depth(BUY, 50) if lv.price * 100 >= price * 95)
        asks = sum(lv.quantity for lv in book.depth(SELL, 50) if lv.price * 100 <= price * 105)
        return bids > 2 * asks


class SybilFarmer(SimAgent):
    """Runs many accounts that collect every sign-up reward and every daily bonus and
    pass the coins to one main account. The platform sees the accounts as
    ``clusters_each`` clusters (tagged through the real rules, `EconomyRules.tag_cluster`).

    An adaptive farmer (``adaptive``) opens accounts over ``spread_days``, stakes the
    minimum when the daily bonus needs a stake, casts the cheapest real actions (votes)
    when the bonus needs activity and the rewards still to come pay for them, waits while
    an account is too young, and drops an account a cluster cap refuses. It keeps what
    those actions cost when it consolidates."""

    role = "sybil"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        sy = model.pop.sybil
        self.accounts = [f"{uid}a{i}" for i in range(sy.accounts_each)]
        for a in self.accounts:
            model.roles[f"user:{a}"] = "sybil"
        self.live: list[str] = []
        self.dropped: set[str] = set()

    def _farm(self, tx: Any) -> None:
        if tx is not None and not tx.replayed:
            self.model.count("sybil_farmed", sum(e.amount for e in tx.entries))

    def open_account(self, a: str, i: int) -> None:
        m, rules, sy = self.model, self.model.economy.rules, self.model.pop.sybil
        rules.tag_cluster(a, f"{self.uid}:c{i % sy.clusters_each}")
        for kind in ("guest_initial", "signup", "newsletter"):
            try:
                self._farm(rules.one_time_reward(a, kind))
            except NotEligible:
                m.count("sybil_refused_cluster")
                self.dropped.add(a)
                return
        self.live.append(a)

    def claim(self, a: str, day: int) -> None:
        """One account's daily bonus, qualifying for it the cheapest way the rules allow."""
        m, rules, sy = self.model, self.model.economy.rules, self.model.pop.sybil
        cfg = m.config
        try:
            res = rules.daily_login(a)
        except NotEligible as err:
            why = str(err.details.get("reason", ""))
            if "cluster" in why:
                self.dropped.add(a)
                return
            if "days old" in why:
                m.count("sybil_waited_age")
                return
            if "real actions" in why:
                if not sy.adaptive or not self.activity_pays(a):
                    return
                for k in range(cfg.antisybil.min_activity):
                    try:
                        rules.vote(a, f"sybil{day}.{k}")
                    except LedgerError:
                        return
                m.count("sybil_bought_activity")
            elif cfg.phase2.daily_bonus_requires_stake:
                if not m.open_pools:
                    return
                try:  # the cheapest way to qualify: the minimum stake
                    m.economy.pools.stake(m.open_pools[0], a, "yes", cfg.pools.min_stake, key=f"sybil:{a}:{day}")
                except LedgerError:
                    return
            else:
                return
            try:
                res = rules.daily_login(a)
            except (NotEligible, LedgerError):
                return
        self._farm(res.login)
        self._farm(res.streak)

    def activity_pays(self, a: str) -> bool:
        """Do the votes that unlock the bonus cost less than the bonuses left in the run?"""
        m = self.model
        cfg = m.config
        days_left = m.pop.days - m.env.now / DAY
        cost = cfg.antisybil.min_activity * cfg.spend.vote
        gain = days_left * (cfg.rewards.daily_login + cfg.rewards.streak_bonus / cfg.rewards.streak_days)
        return cost < gain and m.ledger.balance(f"user:{a}") >= cost

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        sy = m.pop.sybil
        yield env.timeout(delay)
        spread = max(1, int(sy.spread_days)) if sy.adaptive and sy.spread_days else 1
        per_day = -(-len(self.accounts) // spread)
        keep = m.config.antisybil.min_activity * m.config.spend.vote if sy.adaptive else 0
        day = 0
        while True:
            new = self.accounts[day * per_day:(day + 1) * per_day] if day < spread else []
            for i, a in enumerate(new, start=day * per_day):
                self.open_account(a, i)
            for a in self.live:
                if a not in self.dropped:
                    self.claim(a, day)
            day += 1
            if day % sy.consolidate_every_days == 0:
                for a in self.live:
                    bal = m.ledger.balance(f"user:{a}") - keep
                    if bal > 0:
                        m.ledger.transfer(f"user:{a}", self.account, bal, key=f"sybil:move:{a}:{day}")
            yield env.timeout((env.now // DAY + 1) * DAY + r.random() * 3600 - env.now)
