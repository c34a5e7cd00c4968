"""The simulator's agents: Mesa agents whose lives are SimPy processes.

Each agent's ``life`` is a generator that sleeps (``yield env.timeout(...)``) until its
next action, so an idle user costs nothing. Agents act only through the real code the
model hands them: `EconomyRules` (earn, spend), `Payments` (checkout; Stripe's
webhooks come back through the real handler), `Pools` / `Challenges`, the market's
`Exchange` or `BondingCurve`. A refusal (insufficient funds, a frozen account, a
defense) is a normal outcome: the agent notes it and moves on.

Time is in seconds of simulated time (``DAY`` = 86400); all randomness comes from the
model's one seeded ``random.Random``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import mesa

from ledger.economy.errors import NotEligible, PromoRejected
from ledger.errors import AccountFrozen, InsufficientFunds, LedgerError
from market.book import SELL

if TYPE_CHECKING:
    from .model import EconomyModel

__all__ = [
    "DAY",
    "Bettor",
    "CasualUser",
    "Follower",
    "PackageBuyer",
    "PumpRing",
    "Seller",
    "Shopper",
    "SimAgent",
    "SybilFarmer",
    "Trader",
    "Whale",
]

DAY = 86400.0
Life = Generator[Any, Any, None]


class SimAgent(mesa.Agent):
    """An agent with a ledger account ``user:<uid>`` and a SimPy life."""

    role = "agent"
    model: EconomyModel

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


# -- casual users ---------------------------------------------------------------------------
class CasualUser(SimAgent):
    """Arrives, collects the one-time rewards, logs in on a personal habit, votes and
    unlocks analyses, and churns after an exponential lifetime."""

    role = "casual"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        c = model.pop.casual
        r = model.random
        k = c.login_rate_concentration
        self.rate = min(0.999, max(0.001, r.betavariate(c.login_rate * k, (1 - c.login_rate) * k)
                                   if c.login_rate < 1 else 1.0))
        self.habit = r.random() * 0.9 * DAY  # the time of day this user tends to come

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        yield env.timeout(delay)
        self.arrive()
        self.login()
        churn_at = env.now + r.expovariate(1.0 / m.pop.casual.mean_lifetime_days) * DAY
        log_miss = math.log(1.0 - self.rate)
        log, rand, timeout, login, habit = math.log, r.random, env.timeout, self.login, self.habit
        while True:
            now = env.now
            gap = 1 + int(log(1.0 - rand()) / log_miss)
            t = (now // DAY + gap) * DAY + habit + rand() * 0.1 * DAY
            if t >= churn_at:
                m.count("churned")
                return
            yield timeout(t - now)
            login()

    def arrive(self) -> None:
        m, r, rules = self.model, self.model.random, self.model.economy.rules
        m.count("arrivals")
        rules.guest_initial(self.uid)
        c = m.pop.casual
        if r.random() < c.signup_share:
            rules.signup_bonus(self.uid)
            if r.random() < c.newsletter_share:
                rules.newsletter_bonus(self.uid)

    def login(self) -> None:
        m = self.model
        self.before_login()
        try:
            m.economy.rules.daily_login(self.uid)
        except NotEligible:
            m.count("daily_bonus_denied")
        except AccountFrozen:
            return
        m.logins_today += 1
        self.engage()

    def before_login(self) -> None:
        """What a user does before claiming the daily bonus (bettors place a stake)."""

    def engage(self) -> None:
        m, r = self.model, self.model.random
        c, rules = m.pop.casual, m.economy.rules
        votes = c.votes_per_login
        n = int(votes) + (r.random() < votes - int(votes))
        try:
            for _ in range(n):
                rules.vote(self.uid, f"c{r.randrange(c.claims)}")
                m.count("votes")
            if r.random() < c.unlock_share:
                rules.unlock_deep_analysis(self.uid, f"c{r.randrange(c.claims)}")
                m.count("unlocks")
        except (InsufficientFunds, AccountFrozen):
            m.count("spend_refused")


class PackageBuyer(CasualUser):
    """A casual user who spends more than they earn and buys coin packages when low.

    Each buyer values a coin at ``value`` cents (lognormal around the scenario's median)
    and wants about ``need`` coins, with diminishing returns beyond that: a package
    worth ``value * need * ln(1 + coins / need)`` cents. They buy the package with the
    largest surplus over its price (promo and PRO bonuses counted), or nothing."""

    role = "buyer"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        b, r = model.pop.buyers, model.random
        self.value = b.value_per_coin_cents * math.exp(r.gauss(0.0, b.value_sigma))
        self.need = max(50, int(b.need_coins * math.exp(r.gauss(0.0, 0.5))))
        self.is_pro = r.random() < b.pro_share
        self.purchases = 0
        self.unlocked = 0

    def engage(self) -> None:
        super().engage()
        m = self.model
        b, rules = m.pop.buyers, m.economy.rules
        unlocks = b.spend_per_login // max(1, m.config.spend.deep_analysis_unlock)
        try:
            for _ in range(unlocks):
                self.unlocked += 1
                rules.unlock_deep_analysis(self.uid, f"p{self.unlocked}")
                m.count("unlocks")
        except (InsufficientFunds, AccountFrozen):
            m.count("spend_refused")
        if self.coin_balance() < b.low_balance:
            self.shop()

    def choose(self) -> tuple[str, str | None] | None:
        """The package (and promo code) with the best surplus, or None."""
        m, r = self.model, self.model.random
        cfg = m.config
        promo = None
        first = cfg.promos.get("FIRST50")
        if first is not None and first.active and self.purchases == 0 and r.random() < m.pop.buyers.promo_uptake:
            promo = "FIRST50"
        best, best_surplus = None, 0.0
        for pkg in m.packages:
            coins = pkg.total_coins
            if promo is not None:
                coins += pkg.base_coins * first.bonus_bps // 10_000 + first.bonus_coins  # type: ignore[union-attr]
            if self.is_pro:
                coins += pkg.base_coins * cfg.purchases.pro_bonus_bps // 10_000
            surplus = self.value * self.need * math.log1p(coins / self.need) - pkg.price_cents
            if surplus > best_surplus:
                best, best_surplus = pkg.id, surplus
        return None if best is None else (best, promo)

    def shop(self) -> None:
        choice = self.choose()
        if choice is None:
            self.model.count("no_package_worth_it")
            return
        if self.buy_package(choice[0], choice[1], is_pro=self.is_pro):
            self.purchases += 1


class Bettor(CasualUser):
    """A casual user who stakes on pools (before claiming the daily bonus, so the
    Phase-2 rule lets them have it) and sometimes opens a belt challenge."""

    role = "bettor"

    def before_login(self) -> None:
        m, r = self.model, self.model.random
        b = m.pop.betting
        if m.open_pools:
            pool = m.open_pools[r.randrange(len(m.open_pools))]
            cap = m.config.pools.max_stake_per_user
            amount = min(cap, max(m.config.pools.min_stake, int(self.coin_balance() * b.stake_share)))
            outcome = "yes" if r.random() < 0.5 else "no"
            try:
                m.economy.pools.stake(pool, self.uid, outcome, amount, key=f"{pool}:{self.uid}:{int(m.env.now)}")
                m.count("stakes")
            except LedgerError:
                m.count("stake_refused")
        if r.random() < b.challenge_share and m.bettors:
            m.challenge_seq += 1
            cid = f"ch{m.challenge_seq}"
            try:
                hold = m.economy.challenges.open(cid, self.uid, b.belt_value)
            except LedgerError:
                m.count("challenge_refused")
                return
            opponent = m.bettors[r.randrange(len(m.bettors))]
            m.challenges_open.append((m.env.now, hold.id, self.uid, opponent.uid))
            m.count("challenges")


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
    """Funded through Stripe with XL packages; trades brand coins on momentum
    (yesterday's close vs now) or value (the seller's fair value)."""

    role = "trader"
    budget_share = 0.1

    def __init__(self, model: EconomyModel, uid: str, packages: int) -> None:
        super().__init__(model, uid)
        self.packages = packages
        self.momentum = model.random.random() < model.pop.market.momentum_share

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        yield env.timeout(delay)
        yield from fund(m, self.uid, self.packages, "xl")
        if not m.sellers:
            return
        while True:
            yield env.timeout(r.expovariate(m.pop.market.trades_per_day) * DAY)
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

    def __init__(self, model: EconomyModel, uid: str, packages: int) -> None:
        super().__init__(model, uid, packages)
        self.momentum = False


# -- manipulation -------------------------------------------------------------------------------
class PumpRing(SimAgent):
    """A ring of accounts against the coin with the least demand: accumulate quietly,
    hype it to followers, sell into their buying, then dump the rest."""

    role = "ring"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        p = model.pop.pump
        self.members = [f"user:{uid}m{i}" for i in range(p.members)]
        for acct in self.members:
            model.roles[acct] = "ring"
        self.target: str | None = None

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        p = m.pop.pump
        yield env.timeout(delay)
        for acct in self.members:  # funding: each member buys packages through Stripe
            env.process(fund(m, acct.split(":", 1)[1], p.packages_each, "xl"))
        yield env.timeout(max(0.0, p.start_day * DAY - env.now))
        if not m.sellers:
            return
        self.target = sym = min(m.sellers, key=lambda s: s.demand).symbol
        m.ring_targets.add(sym)
        steps = max(1, int(p.accumulate_days * 12))
        for _ in range(steps):  # accumulate: every ~2 hours a member takes what is offered
            yield env.timeout(p.accumulate_days * DAY / steps)
            acct = self.members[r.randrange(len(self.members))]
            price = m.price(sym)
            m.buy(sym, acct, m.ledger.balance(acct, "COIN") // 4, price * 105 // 100 + 1, ioc=True)
        m.hype[sym] = env.now + p.hype_days * DAY  # tell the followers
        m.count("hype_started")
        steps = max(1, int(p.hype_days * 24))
        for i in range(steps):  # sell into the followers' demand, on a rising ladder
            yield env.timeout(p.hype_days * DAY / steps)
            price = m.price(sym)
            for k, acct in enumerate(self.members):  # each member one rung of the ladder
                held = m.ledger.balance(acct, sym)
                if held > 0:
                    rung = price * (105 + 5 * k) // 100 + 1
                    m.sell(sym, acct, max(1, held // (steps - i + 1)), rung, days=0.5)
        for left in range(24, 0, -1):  # dump the rest over a day, into whatever bids there are
            yield env.timeout(3600)
            for acct in self.members:
                held = m.ledger.balance(acct, sym)
                if held > 0:
                    m.sell(sym, acct, max(1, held // left), max(1, m.price(sym) * 60 // 100), ioc=True)


class Follower(SimAgent):
    """Reads the ring's hype and buys in; sells in panic when the price falls far below
    what they paid. The pump-and-dump's victims."""

    role = "follower"

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        p = m.pop.pump
        yield env.timeout(delay)
        yield from fund(m, self.uid, p.follower_packages, "medium")
        paid: dict[str, int] = {}
        while True:
            yield env.timeout(r.expovariate(p.follower_checks_per_day) * DAY)
            for sym, until in list(m.hype.items()):
                if env.now < until and sym not in paid:
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
                    m.sell(sym, self.account, held, max(1, price * 80 // 100), ioc=True)
                    m.count("panic_sells")


class SybilFarmer(SimAgent):
    """Runs many accounts that collect every sign-up reward and every daily bonus and
    pass the coins to one main account."""

    role = "sybil"

    def __init__(self, model: EconomyModel, uid: str) -> None:
        super().__init__(model, uid)
        self.accounts = [f"{uid}a{i}" for i in range(model.pop.sybil.accounts_each)]
        for a in self.accounts:
            model.roles[f"user:{a}"] = "sybil"

    def _farm(self, tx: Any) -> None:
        if tx is not None and not tx.replayed:
            self.model.count("sybil_farmed", sum(e.amount for e in tx.entries))

    def life(self, delay: float) -> Life:
        m, env, r = self.model, self.model.env, self.model.random
        rules = m.economy.rules
        yield env.timeout(delay)
        for a in self.accounts:
            for kind in ("guest_initial", "signup", "newsletter"):
                self._farm(rules.one_time_reward(a, kind))
        day = 0
        while True:
            for a in self.accounts:
                try:
                    res = rules.daily_login(a)
                except NotEligible:
                    if not m.open_pools:
                        continue
                    try:  # the cheapest way to qualify: the minimum stake
                        m.economy.pools.stake(m.open_pools[0], a, "yes", m.config.pools.min_stake,
                                              key=f"sybil:{a}:{day}")
                        res = rules.daily_login(a)
                    except LedgerError:
                        continue
                self._farm(res.login)
                self._farm(res.streak)
            day += 1
            if day % m.pop.sybil.consolidate_every_days == 0:
                for a in self.accounts:
                    bal = m.ledger.balance(f"user:{a}")
                    if bal > 0:
                        m.ledger.transfer(f"user:{a}", self.account, bal, key=f"sybil:move:{a}:{day}")
            yield env.timeout((env.now // DAY + 1) * DAY + r.random() * 3600 - env.now)

