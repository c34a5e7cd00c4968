"""Simulating forward from a warehouse source's state: back-tests and forecasts.

`StateOrigin` starts an `EconomyModel` from a `sim.state.SourceState` instead of an
empty ledger:

- **Opening balances** go through the real ledger as one OPENING_BALANCE transaction
  per asset against ``system:opening`` (which ends at zero): every account's balance at
  the source's day, the mint's negative one and the burn account's included, so
  ``issued``, ``burned`` and ``circulating`` continue the source's. Coins locked in an
  open hold are opened in their owner's balance; open orders are then placed again on
  the book (locking them again); open belt challenges and pool stakes are returned (a
  challenge's opponent and a pool's resolution are not in the warehouse). The opening
  is not issuance: the model's daily flows start after it.
- **Brand coins** are launched again with no new allocation, their launch facts
  (allocation, vesting, launch time) and their last trade price; their sellers act again.
- **Users.** Each of the source's app users becomes a `User` with their history
  (joined, sessions, streak, last session, purchases, the rules' streak facts). Traits
  are a posterior draw per user: `CANDIDATES` draws from the scenario's (calibrated)
  population, one picked with probability proportional to the likelihood of the user's
  history (sessions per day since joining, the idle days since the last one, the
  packages bought, the short sessions that bought nothing; `StateOrigin._posterior`),
  from the model's seeded random. Satisfaction is replayed event by event with the
  behaviour model's own terms (`_replayed_satisfaction`: the arrival's and each login's
  rewards, actions done, wants given up on a session that ran short and bought nothing,
  bets won and lost, the half-life); wants given up leave no trace in a journal, so
  those are the candidate's expected ones. A user not seen for ``d`` days may have churned
  unseen: they are kept with their posterior probability of being alive,
  ``q^d / (q^d + h (1 - q^d) / (1 - q))`` with daily hazard ``h`` and ``q = (1 - h)(1 - p)``
  (the "buy till you die" argument of BG/NBD, Fader, Hardie & Lee 2005).
- **Agents without an arrival** (traders, whales, followers) whose accounts are in the
  source (`SourceState.present`) go on from where they were: funded already, they buy
  again only when they would have (a trader under a fifth of its budget, or one the
  daily purchase limit stopped on the source's last day); a trader's traits are drawn
  the same way, given the packages it chose in its refills.
- **Payments.** The source's checkouts are loaded into the economy's payment store (who
  paid before: FIRST50 and the first-purchase offer are once per user) and left out of
  the run's export.
- **New users** keep arriving at the source's observed rate (`SourceState.arrivals_per_day`),
  uniformly over the horizon.

`backtest` fits on a source's first N days (through an injectable calibration step),
simulates the next M from the state at day N on K seeds and scores the forecast
against what happened (MAPE per metric, the band across seeds). `forecast` simulates
production forward under the current config and a new one on the same seeds and gives
the paired differences (`sim.experiment.paired`).
"""

from __future__ import annotations

import hashlib
import math
import statistics
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from ledger import BURN, MINT
from ledger.economy.config import ConfigError
from ledger.economy.payment_store import PaymentRecord, PaymentStatus
from ledger.economy.rules import PLATFORM
from ledger.model import EntryType, Posting, TransferRequest
from market.coins import vesting_account

from .agents import LOSS_AVERSION, WAIT_FOR_COINS, User, package_options
from .behaviour import Traits, choice_probability, churn_hazard, draw_traits, session_chance
from .experiment import Interval, interval, paired
from .model import EconomyModel, gini
from .runner import RunResult, run
from .scenario import Scenario, load_scenario
from .state import ESCROW, ActiveDay, SourceState, StateError, UserHistory, read_state, source_days

__all__ = [
    "BACKTEST_METRICS", "FORECAST_METRICS", "Backtest", "Forecast", "ForecastError", "StateOrigin", "backtest",
    "calibrated", "daily_series", "forecast", "load_new_config", "mape", "start_model", "uncalibrated",
]

OPENING = "system:opening"
BACKTEST_METRICS = ("actives", "purchases", "revenue_cents", "issuance", "burn")
FORECAST_METRICS = ("issuance", "free_issuance", "burn", "supply", "revenue_cents", "actives", "retention", "gini")
RETENTION_DAYS = 7  # retention: the source's users with a session in the forecast's last week


class ForecastError(ValueError):
    """A back-test or forecast that cannot run as asked; nothing was written."""


# -- starting a model from a state -------------------------------------------------------------
def _given_up(model: EconomyModel, t: Traits) -> float:
    """Wants a session gives up when the balance is short: the unlocks it wants (the
    dearer want) and the belt challenge, in expectation."""
    b = model.behaviour
    return min(float(b.claims_per_day), b.unlocks_per_session * t.appetite) + b.challenges_per_session * t.risk * t.appetite


def _short(model: EconomyModel, d: ActiveDay, paid_days: frozenset[date] | set[date]) -> bool:
    """A session that ended with less than the dearer want costs and bought nothing: the
    user could not pay for a want and declined to buy (a purchase decision said no)."""
    spend = model.config.spend
    return d.session and d.balance < max(spend.vote, spend.deep_analysis_unlock) and d.day not in paid_days


def _replayed_satisfaction(model: EconomyModel, t: Traits, history: Any,
                           paid_days: frozenset[date] | set[date] = frozenset()) -> float:
    """The behaviour model's satisfaction after the user's observed history, event by
    event as `sim.agents.User` feels them: bets settled (at midnight, before the day's
    session: a loss weighs `LOSS_AVERSION` times a gain), then at a session the decay
    since the last one (it halves every ``satisfaction_half_life_days``), the rewards
    per event (the arrival's credits together, the login's and the streak's together),
    the actions done and, on a session that ran short and bought nothing (`_short`), the
    wants given up (`_given_up`, in expectation)."""
    return _replay(model, t, history, paid_days)[0]


def _replay(model: EconomyModel, t: Traits, history: Any,
            paid_days: frozenset[date] | set[date] = frozenset()) -> tuple[float, float]:
    """`_replayed_satisfaction` and the log of the chance the user stayed between their
    sessions: each gap survived at the churn hazard the last session left (the hazard
    `User.next_event` draws the churn with)."""
    b, rs = model.behaviour, t.reward_sensitivity
    gave_up = b.pain_given_up * math.log1p(_given_up(model, t))
    s, last, survival, stay = 0.0, None, 0.0, 0.0
    for d in history.days:
        for net in d.bets:
            pain = b.pain_loss * math.log1p(abs(net) / 100.0)
            s += pain / LOSS_AVERSION if net > 0 else -pain
        if d.session and last is not None:
            survival += (d.day - last).days * stay
            s *= 0.5 ** ((d.day - last).days / b.satisfaction_half_life_days)
        s += sum(b.joy_reward * rs * math.log1p(c / b.reward_scale_coins) for c in d.rewards if c > 0)
        if d.session or d.done:
            s += b.joy_fulfilled * math.log1p(d.done)
        if _short(model, d, paid_days):
            s -= gave_up
        if d.session:
            last, stay = d.day, math.log1p(-_clamp(churn_hazard(b, s)))
    return s, survival


def _idle(hazard: float, p_session: float, idle_days: int) -> tuple[float, float]:
    """(P(no session and still a user after ``idle_days`` days), P(no session in them
    because the user left on one of them)) with a daily hazard and session chance."""
    q = (1.0 - hazard) * (1.0 - p_session)
    qd = q ** idle_days
    return qd, hazard * (1.0 - qd) / (1.0 - q) if q < 1.0 else 0.0


def _alive_chance(hazard: float, p_session: float, idle_days: int) -> float:
    """P(still a user | no session for ``idle_days`` days since the last one)."""
    if idle_days <= 0:
        return 1.0
    qd, dead = _idle(hazard, p_session, idle_days)
    return qd / (qd + dead) if qd + dead > 0 else 0.0


def _claims_pmf(model: EconomyModel, t: Traits, done: int) -> float:
    """P(a session acts on ``done`` claims | appetite): the larger of its votes and its
    unlocks (each Poisson), at most ``claims_per_day`` (`User.wants`)."""
    b = model.behaviour
    lv, lu = b.votes_per_session * t.appetite, b.unlocks_per_session * t.appetite

    def cdf(lam: float, k: int) -> float:
        if k < 0:
            return 0.0
        term = total = math.exp(-lam)
        for i in range(1, k + 1):
            term *= lam / i
            total += term
        return min(1.0, total)

    if done >= b.claims_per_day:
        return 1.0 - cdf(lv, b.claims_per_day - 1) * cdf(lu, b.claims_per_day - 1)
    return cdf(lv, done) * cdf(lu, done) - cdf(lv, done - 1) * cdf(lu, done - 1)


def _clamp(p: float) -> float:
    return min(1.0 - 1e-12, max(1e-12, p))


CANDIDATES = 32  # trait vectors drawn from the population per resumed agent (posterior draw)


def _pick(r: Any, candidates: list[Traits], loglik: Callable[[Traits], float]) -> Traits:
    """One of ``candidates`` (prior draws) with probability proportional to its
    likelihood: a draw from the posterior (sampling-importance-resampling)."""
    lls = [loglik(c) for c in candidates]
    top = max(lls)
    weights = [math.exp(ll - top) for ll in lls]
    x = r.random() * sum(weights)
    for c, w in zip(candidates, weights, strict=True):
        x -= w
        if x < 0.0:
            return c
    return candidates[-1]


def _purchase_loglik(m: EconomyModel, t: Traits, paid: Sequence[PaymentRecord], need: float) -> float:
    """log P(the packages chosen | traits): each paid checkout's logit probability, with
    the promo the user took (FIRST50) among its options."""
    b, ll = m.behaviour, 0.0
    for rec in paid:
        options = package_options(m, first=rec.promo_code is not None, is_pro=t.is_pro,
                                  promo_ok=rec.promo_code is not None)
        p = choice_probability(options, (rec.package_id, rec.promo_code), t.wtp_cents, need, b.price_sensitivity,
                               b.need_discount)
        ll += math.log(max(p, 1e-300))
    return ll


def _refill_loglik(m: EconomyModel, t: Traits, paid: Sequence[PaymentRecord], budget: int, refilling: bool) -> float:
    """log P(a trader's checkouts | traits) under `sim.agents.refill`: the checkouts fall
    into refills (each ~`WAIT_FOR_COINS` after the last, or just after midnight when the
    daily limit stopped one); each is chosen against what was still missing (the whole
    budget on the first refill, four fifths of it later: a refill starts under a fifth),
    and a refill that ended short of the budget ended with "buy nothing" (but for the
    last one if the daily limit stopped it on the source's last day: ``refilling``)."""
    b, ll = m.behaviour, 0.0
    refills: list[list[PaymentRecord]] = []
    for rec in sorted(paid, key=lambda p: p.created_at):
        prev = refills[-1][-1].created_at if refills else None
        gap = (rec.created_at - prev).total_seconds() if prev is not None else math.inf
        next_day = prev is not None and rec.created_at.date() > prev.date() and rec.created_at.hour == 0
        if gap <= 2 * WAIT_FOR_COINS + 600 or next_day:
            refills[-1].append(rec)
        else:
            refills.append([rec])
    sens, disc = b.price_sensitivity, b.need_discount
    for i, recs in enumerate(refills):
        missing = float(budget if i == 0 else budget - budget // 5)
        for rec in recs:
            options = package_options(m, first=rec.promo_code is not None, is_pro=t.is_pro,
                                      promo_ok=rec.promo_code is not None)
            p = choice_probability(options, (rec.package_id, rec.promo_code), t.wtp_cents, missing, sens, disc)
            ll += math.log(max(p, 1e-300))
            missing -= rec.base_coins + rec.bonus_coins
        if missing > 0 and not (refilling and i == len(refills) - 1):
            options = package_options(m, first=False, is_pro=t.is_pro, promo_ok=False)
            ll += math.log(max(choice_probability(options, None, t.wtp_cents, missing, sens, disc), 1e-300))
    return ll


class StateOrigin:
    """An `sim.model.Origin` from a source's state (see the module's docstring)."""

    def __init__(self, state: SourceState) -> None:
        self.state = state
        self.at = state.at
        self.resumed: list[User] = []
        self.alive = 0

    # -- the ledger and the market ---------------------------------------------------------
    def open(self, m: EconomyModel) -> None:
        st = self.state
        if st.coins and m.exchange is None:
            raise ForecastError("the source has brand coins: a forecast from it needs the order-book market "
                                "(population.market.mechanism = 'book')")
        vesting = m.scenario.market.vesting
        for c in st.coins:
            seller = c.seller or PLATFORM
            coin = m.exchange.launch(c.symbol, c.name, seller, initial_price=c.price,  # type: ignore[union-attr]
                                     max_supply=c.max_supply, allocation=0, now=m.clock())
            coin.allocation, coin.vesting_days, coin.launched_at = c.allocation, c.vesting_days, c.launched_at
            coin.cliff_days = vesting.cliff_days if c.vesting_days and vesting.enabled else 0
            coin.released = c.allocation - st.balance(vesting_account(c.symbol), c.symbol) if coin.vests else c.allocation
            m.brand_coins[c.symbol] = coin
        self._post_opening(m)
        m.present = st.present
        self._carry_payments(m)
        from .agents import Seller

        for c in st.coins:
            if c.seller and c.seller.startswith("user:"):
                seller_agent = Seller(m, c.seller.split(":", 1)[1], c.symbol)
                m.sellers.append(seller_agent)
                seller_agent.start(0.0)
        for o in st.open_orders:
            tif = "GTD" if o.expires_at is not None else "GTC"
            try:
                order = m.exchange.submit(o.symbol, o.account, o.side, o.remaining, o.price,  # type: ignore[union-attr]
                                          tif=tif, expires_at=o.expires_at)
            except Exception as err:  # noqa: BLE001 - a refused order is counted, as on a live book
                m.count(f"opening_order_refused:{type(err).__name__}")
                continue
            m.orders.append(order)

    def _carry_payments(self, m: EconomyModel) -> None:
        """The source's checkouts, so the economy knows who paid before (FIRST50 and the
        first-purchase offer are once per user). Their session ids are prefixed with the
        source (this run's simulated Stripe counts its own from 1), and they are not this
        run's payments: the export leaves them out (`EconomyModel.carried_payments`)."""
        store = m.economy.payments.store
        for rec in self.state.payments:
            sid = f"{self.state.source}:{rec.session_id}"
            store.add(rec._replace(session_id=sid, idempotency_key=None, payment_intent=None))
            m.carried_payments.add(sid)

    def _post_opening(self, m: EconomyModel) -> None:
        st, ledger = self.state, m.ledger
        ledger.open_account(OPENING, allow_negative=True)
        for acct in st.allow_negative:
            ledger.open_account(acct, allow_negative=True)
        target: dict[tuple[str, str], int] = defaultdict(int)
        for (acct, asset), bal in st.balances.items():
            if acct != ESCROW:
                target[(acct, asset)] += bal
        for h in st.open_holds:  # locked coins open in their owner's balance
            target[(h.account, h.asset)] += h.amount
        for asset in sorted({a for _, a in st.balances}):
            left = st.balance(ESCROW, asset) - sum(h.amount for h in st.open_holds if h.asset == asset)
            if left:
                raise StateError(f"{asset}: escrow holds {left} more than the open holds explain")
        by_asset: dict[str, list[Posting]] = defaultdict(list)
        for (acct, asset), bal in sorted(target.items()):
            if bal > 0:
                by_asset[asset].append(Posting(OPENING, acct, asset, bal))
            elif bal < 0:
                ledger.open_account(acct, allow_negative=True)
                by_asset[asset].append(Posting(acct, OPENING, asset, -bal))
        for asset, postings in sorted(by_asset.items()):
            ledger.post(TransferRequest(tuple(postings), EntryType.OPENING_BALANCE, f"opening:{asset}", "state",
                                        f"{st.source}@{st.day}"))
        for acct in st.frozen:
            ledger.freeze(acct)

    # -- people and metrics ------------------------------------------------------------------
    def carry_over(self, m: EconomyModel) -> None:
        st, r = self.state, m.random
        self._seed_facts(m)
        histories = list(st.users)
        users = [User(m, h.uid, bettor=h.bettor) for h in histories]
        rw, b = m.config.rewards, m.behaviour
        pay = rw.daily_login + (rw.streak_bonus / rw.streak_days if rw.daily_login > 0 else 0.0)
        paid = self.paid()
        for u, h in zip(users, histories, strict=True):
            u.joined = (h.joined - st.at).total_seconds()
            u.sessions, u.streak, u.purchases = h.sessions, h.streak, h.purchases
            u.last_day = (h.last_session - st.at.date()).days if h.last_session else -1
            recs = paid.get(h.account, [])
            paid_days = frozenset(rec.created_at.date() for rec in recs)
            u.traits = self._posterior(m, u, h, recs, paid_days, pay)
            u.satisfaction = _replayed_satisfaction(m, u.traits, h, paid_days)
            u.session_cost = u.want_cost()
            age = -u.joined / 86400.0
            afford = min(1.0, u.coin_balance() / u.session_cost)
            p = session_chance(b, u.traits, pay=pay, affordable=afford, age_days=age)
            last = h.last_session or h.joined.date()
            if r.random() >= _alive_chance(churn_hazard(b, u.satisfaction), p, (st.day - last).days):
                continue  # churned unseen: the account stays, nobody comes back to it
            self.alive += 1
            m.users.append(u)
            if u.bettor:
                m.bettors.append(u)
            self.resumed.append(u)
            m.env.process(u.carry_on(None, today=-1))
        m.uid_offset = max([int(a[6:]) for (a, _) in st.balances if a[:6] == "user:u" and a[6:].isdigit()]
                           + [len(histories)])
        # cumulative metrics continue the source's; the opening is no day's flow
        c, ledger = m.counts, m.ledger
        c["arrivals"] = len(histories)
        m._last.update(issued=-ledger.balance(MINT), burned=ledger.balance(BURN),
                       revenue=ledger.balance(PLATFORM, "USD"), arrivals=len(histories))
        m._journal_seen = len(ledger.store.book.journal)  # type: ignore[attr-defined]
        self._resume_traders(m)

    def paid(self) -> dict[str, list[PaymentRecord]]:
        """The source's paid checkouts by account."""
        out: dict[str, list[PaymentRecord]] = defaultdict(list)
        for rec in self.state.payments:
            if rec.status == PaymentStatus.PAID:
                out[f"user:{rec.user_id}"].append(rec)
        return out

    def _resume_traders(self, m: EconomyModel) -> None:
        """Traders and whales in the source go on funded (`Trader.resumed`): traits drawn
        given the packages they chose (their need: the budget), and ``refilling`` if the
        daily purchase limit stopped their buying on the source's last day with less than
        the budget (coins locked in its open orders counted: they come back as they expire)."""
        st, r, b = self.state, m.random, m.behaviour
        paid, limit = self.paid(), m.config.purchases.daily_limit_cents
        for t in m.traders:
            if not t.resumed:
                continue
            recs = paid.get(t.account, [])
            today = sum(rec.price_cents for rec in recs if rec.created_at.date() == st.day)
            held = sum(h.amount for h in st.open_holds if h.account == t.account and h.asset == "COIN")
            t.refilling = (today > 0 and today + max(rec.price_cents for rec in recs) > limit
                           and st.balance(t.account) + held < t.budget)
            if recs:
                cands = [draw_traits(b, r, wtp_median_cents=b.trader_wtp_cents) for _ in range(CANDIDATES)]
                budget, refilling = t.budget, t.refilling

                def loglik(c: Traits, recs: list[PaymentRecord] = recs, budget: int = budget,
                           refilling: bool = refilling) -> float:
                    return _refill_loglik(m, c, recs, budget, refilling)

                t.traits = _pick(r, cands, loglik)

    def _seed_facts(self, m: EconomyModel) -> None:
        """The rules' journal facts (streak days, account age, activity) for the source's users."""
        store = m.ledger.store
        for h in self.state.users:
            store.day_credits[(h.account, "DAILY_LOGIN")] = set(h.login_days)  # type: ignore[attr-defined]
            store.day_credits[(h.account, "STREAK_BONUS")] = set(h.streak_days)  # type: ignore[attr-defined]
            store.first_reward[h.account] = h.joined  # type: ignore[attr-defined]
            store.activity[h.account] = h.activity  # type: ignore[attr-defined]

    def _posterior(self, m: EconomyModel, u: User, h: UserHistory, paid: list[PaymentRecord],
                   paid_days: frozenset[date], pay: float) -> Traits:
        """The user's traits: `CANDIDATES` draws from the scenario's population, one picked
        with probability proportional to the likelihood of the user's history (`_pick`):

        - sessions: after the first (at arrival), ``sessions - 1`` of the days up to the
          last one, at the candidate's session chance (at the middle of that age), each
          gap between two sessions survived at the hazard the first left (`_replay`); then
          no session in the idle days since, alive or gone (`_idle`);
        - purchases: each paid checkout's package by the logit, against the coins the
          candidate needs (a session's wants x its session chance x ``need_days``);
        - appetite: the claims acted on in each session the balance covered (`_claims_pmf`);
        - declines: each session that ran short and bought nothing (`_short`) had a want
          it could not pay for (the chance it wanted an unlock) and bought nothing.
        """
        st, b = self.state, m.behaviour
        joined = h.joined.date()
        last = h.last_session or joined
        n, k = (last - joined).days, max(0, h.sessions - 1)
        idle, age = (st.day - last).days, (st.day - joined).days
        balance = u.coin_balance()
        shorts = sum(1 for d in h.days if _short(m, d, paid_days))
        # claims acted on in the sessions the balance covered (a bettor's stakes count too: not used)
        spend = m.config.spend
        covered = Counter(d.done for d in h.days if d.session and not h.bettor
                          and d.balance >= max(spend.vote, spend.deep_analysis_unlock))
        sens, disc, uptake = b.price_sensitivity, b.need_discount, b.promo_uptake

        def loglik(c: Traits) -> float:
            u.traits = c
            cost = u.want_cost()
            afford = min(1.0, balance / cost)
            sat, survival = _replay(m, c, h, paid_days)
            hz = _clamp(churn_hazard(b, sat))
            p = _clamp(session_chance(b, c, pay=pay, affordable=afford, age_days=n / 2))
            ll = k * math.log(p) + (n - k) * math.log1p(-p) + survival
            p_now = _clamp(session_chance(b, c, pay=pay, affordable=afford, age_days=age))
            if idle > 0:
                ll += math.log(max(1e-300, sum(_idle(hz, p_now, idle))))
            need = cost * p_now * b.need_days
            for rec in paid:
                promo = rec.promo_code is not None
                options = package_options(m, first=promo, is_pro=c.is_pro, promo_ok=promo)
                ll += math.log(max(1e-300, choice_probability(options, (rec.package_id, rec.promo_code),
                                                              c.wtp_cents, need, sens, disc)))
            for done, times in covered.items():
                ll += times * math.log(max(1e-300, _claims_pmf(m, c, done)))
            if shorts:
                plain = package_options(m, first=False, is_pro=c.is_pro, promo_ok=False)
                none = choice_probability(plain, None, c.wtp_cents, need, sens, disc)
                if not paid:  # a first purchase: FIRST50 among the options, if the user takes it
                    first50 = package_options(m, first=True, is_pro=c.is_pro, promo_ok=True)
                    none = uptake * choice_probability(first50, None, c.wtp_cents, need, sens, disc) \
                        + (1.0 - uptake) * none
                wants = -math.expm1(-b.unlocks_per_session * c.appetite)
                ll += shorts * math.log(max(1e-300, 1.0 - wants + wants * none))
            return ll

        return _pick(m.random, [draw_traits(b, m.random) for _ in range(CANDIDATES)], loglik)


def _forecast_scenario(scenario: Scenario, state: SourceState, days: int) -> Scenario:
    """The scenario's population for a forecast: ``days`` days, new users at the source's
    arrival rate over them (none on a first-day burst)."""
    pop = scenario.population.model_copy(update={"days": days, "users": round(state.arrivals_per_day * days),
                                                 "initial_share": 0.0})
    return scenario.model_copy(update={"population": pop})


def start_model(scenario: Scenario, state: SourceState, *, days: int, seed: int = 1,
                check_each_day: bool = False) -> EconomyModel:
    """An `EconomyModel` at ``state``, ready to run ``days`` days."""
    sc = _forecast_scenario(scenario, state, days)
    return EconomyModel(sc, seed=seed, check_each_day=check_each_day, origin=StateOrigin(state))


def run_from_state(scenario: Scenario, state: SourceState, *, days: int, seed: int, root: str | Path | None,
                   run_id: str, kind: str, meta: dict[str, Any], on_day: Callable[[int, int], None] | None = None
                   ) -> tuple[EconomyModel, RunResult, StateOrigin]:
    """Run ``days`` days from ``state`` and write the run (unless ``root`` is None) with
    ``kind`` and ``meta`` as its parameters' "forecast" object."""
    origin = StateOrigin(state)
    model, res = run(_forecast_scenario(scenario, state, days), seed=seed, root=root, run_id=run_id, kind=kind,
                     origin=origin, on_day=on_day, extra_parameters={"forecast": meta})
    return model, res, origin


# -- daily series and errors ----------------------------------------------------------------
def daily_series(root: str | Path, run_id: str, first: date, last: date) -> dict[str, list[int]]:
    """Per day ``first .. last`` of a warehouse source, from its journal (the same
    definitions for production and a forecast run): ``actives`` users credited a daily
    login, ``purchases`` (COIN_PURCHASE transactions), ``revenue_cents`` (REVENUE less
    REVENUE_REFUND), ``issuance`` (COIN out of the mint, the opening aside) and ``burn``."""
    glob = str(Path(root) / "entries" / f"run_id={run_id}" / "*.parquet").replace("'", "''")
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(f"""
        SELECT time::DATE AS day,
               count(DISTINCT to_account) FILTER (WHERE entry_type = 'DAILY_LOGIN'),
               count(DISTINCT tx_id) FILTER (WHERE entry_type = 'COIN_PURCHASE'),
               coalesce(sum(amount) FILTER (WHERE entry_type = 'REVENUE'), 0)
                 - coalesce(sum(amount) FILTER (WHERE entry_type = 'REVENUE_REFUND'), 0),
               coalesce(sum(amount) FILTER (WHERE asset = 'COIN' AND from_account = '{MINT}'
                                            AND entry_type <> 'OPENING_BALANCE'), 0),
               coalesce(sum(amount) FILTER (WHERE asset = 'COIN' AND to_account = '{BURN}'
                                            AND entry_type <> 'OPENING_BALANCE'), 0)
        FROM read_parquet('{glob}') WHERE time::DATE BETWEEN ? AND ? GROUP BY 1""", [first, last]).fetchall()
    con.close()
    by_day = {r[0]: r[1:] for r in rows}
    n = (last - first).days + 1
    out: dict[str, list[int]] = {k: [] for k in BACKTEST_METRICS}
    for i in range(n):
        vals = by_day.get(first + timedelta(days=i), (0, 0, 0, 0, 0))
        for k, v in zip(BACKTEST_METRICS, vals, strict=True):
            out[k].append(int(v))
    return out


def mape(forecast: Sequence[float], actual: Sequence[float]) -> float | None:
    """Mean absolute percentage error over the days with a non-zero actual (None if none)."""
    errs = [abs(f - a) / abs(a) for f, a in zip(forecast, actual, strict=True) if a]
    return statistics.fmean(errs) if errs else None


# -- back-test --------------------------------------------------------------------------------
# (warehouse root, source, last fit day, base scenario name or path) -> (fitted scenario, a note saying how)
Calibrator = Callable[[Path, str, date, str], tuple[Scenario, str]]


def calibrated(root: Path, source: str, to_day: date, base: str, *,
               design_users: int | None = None) -> tuple[Scenario, str]:
    """The back-test's fit step: `sim.calibrate.calibrate` on the source's days up to
    ``to_day``, applied to the ``base`` scenario (``design_users``: smaller design runs)."""
    from .calibrate import CalibrationError, calibrate

    try:
        fit = (calibrate(root, source, to_day=to_day) if design_users is None
               else calibrate(root, source, to_day=to_day, design_users=design_users))
    except CalibrationError as err:
        raise ForecastError(f"cannot calibrate on the fit days: {err}") from None
    return fit.scenario(base=base), f"calibrated on {source} up to {to_day} (fit error {fit.fit_error:.2f})"


def uncalibrated(root: Path, source: str, to_day: date, base: str) -> tuple[Scenario, str]:
    """A fit step that keeps the base scenario's behaviour (to score the defaults)."""
    return load_scenario(base), f"not calibrated: {base}'s behaviour as it is"


class MetricScore(NamedTuple):
    metric: str
    actual_mean: float
    forecast_mean: float
    mape: float | None
    seed_mapes: list[float | None]
    coverage: float | None
    total_error: float | None  # (forecast - actual) / actual over the whole horizon: the bias


@dataclass
class Backtest:
    """A back-test: ``actual`` and ``runs`` (per seed) daily series, the scores per metric."""

    group: str
    source: str
    fit_last: date
    days: list[date]
    actual: dict[str, list[int]]
    runs: list[dict[str, list[int]]]
    run_ids: list[str]
    scores: list[MetricScore]
    calibration: str


def _band(runs: list[dict[str, list[int]]], metric: str) -> tuple[list[float], list[float], list[float]]:
    """Per day: the mean across seeds and the band (lowest and highest seed)."""
    cols = list(zip(*(r[metric] for r in runs), strict=True))
    return ([statistics.fmean(c) for c in cols], [float(min(c)) for c in cols], [float(max(c)) for c in cols])


def backtest(root: str | Path, source: str, fit_days: int, predict_days: int, *, seeds: int = 3,
             scenario: str = "baseline", calibrator: Calibrator = calibrated,
             write: bool = True, on_day: Callable[[int, int], None] | None = None) -> Backtest:
    """Fit on the source's first ``fit_days`` days, simulate the next ``predict_days`` from
    the state at the last fit day on ``seeds`` seeds, score against what happened."""
    root = Path(root)
    if fit_days < 1 or predict_days < 1 or seeds < 1:
        raise ForecastError(f"--fit-days, --predict-days and --seeds must be >= 1 (got {fit_days}, {predict_days}, "
                            f"{seeds})")
    first, last = source_days(root, source)
    fit_last = first + timedelta(days=fit_days - 1)
    have = (last - first).days + 1
    if fit_days + predict_days > have:
        raise ForecastError(f"source {source!r} has {have} days ({first} .. {last}): it cannot score "
                            f"{fit_days} fit days + {predict_days} predicted days")
    try:
        load_scenario(scenario)
    except ConfigError as err:
        raise ForecastError(str(err)) from None
    fitted, note = calibrator(root, source, fit_last, scenario)
    state = read_state(root, source, fit_last)
    group = "bt-" + hashlib.sha256(f"{source}|{fit_days}|{predict_days}|{seeds}|{fitted.parameters()}".encode()
                                   ).hexdigest()[:10]
    days = [fit_last + timedelta(days=i + 1) for i in range(predict_days)]
    actual = daily_series(root, source, days[0], days[-1])
    runs, run_ids = [], []
    for seed in range(1, seeds + 1):
        rid = f"{group}-s{seed}"
        meta = {"variant": "backtest", "group": group, "from_day": fit_last.isoformat(), "source": source}
        _, res, _ = run_from_state(fitted, state, days=predict_days, seed=seed, root=root if write else None,
                                run_id=rid, kind="backtest", meta=meta, on_day=on_day)
        run_ids.append(res.run_id)
        runs.append(daily_series(root, rid, days[0], days[-1]) if write else {})
    scores = []
    for k in BACKTEST_METRICS:
        mean, low, high = _band(runs, k)
        inside = [lo <= a <= hi for a, lo, hi in zip(actual[k], low, high, strict=True) if a]
        scores.append(MetricScore(k, statistics.fmean(actual[k]), statistics.fmean(mean), mape(mean, actual[k]),
                                  [mape(r[k], actual[k]) for r in runs],
                                  sum(inside) / len(inside) if inside else None,
                                  sum(mean) / sum(actual[k]) - 1.0 if sum(actual[k]) else None))
    return Backtest(group, source, fit_last, days, actual, runs, run_ids, scores, note)


# -- forecast ---------------------------------------------------------------------------------
def load_new_config(base: Scenario | str | Path, path: str | Path) -> Scenario:
    """The base scenario with the overrides of a config file (``[rewards] daily_login = 5``)."""
    p = Path(path)
    try:
        overrides = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ForecastError(f"config file not found: {p}") from None
    except tomllib.TOMLDecodeError as err:
        raise ForecastError(f"{p}: not valid TOML: {err}") from None
    name = base if not isinstance(base, Scenario) else base.name
    try:
        return load_scenario(name, overrides=overrides)
    except ConfigError as err:
        raise ForecastError(f"{p}: {err}") from None


def _changes(current: Scenario, new: Scenario) -> list[str]:
    """Dotted keys whose values differ between the two scenarios' economy, behaviour and market."""
    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, dict):
            out: dict[str, Any] = {}
            for k, v in d.items():
                out |= flat(v, f"{prefix}{k}.")
            return out
        return {prefix[:-1]: d}

    a = flat({"economy": current.config.to_dict(), "behaviour": current.behaviour.model_dump(mode="json"),
              "population": current.population.model_dump(mode="json")})
    b = flat({"economy": new.config.to_dict(), "behaviour": new.behaviour.model_dump(mode="json"),
              "population": new.population.model_dump(mode="json")})
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def outcome(model: EconomyModel, origin: StateOrigin) -> dict[str, float]:
    """A forecast run's figures (`FORECAST_METRICS`): COIN issued (all, and free: rewards
    rather than purchases) and burned over the horizon (the opening aside), supply and the users' Gini at the end, revenue in cents,
    mean daily actives and ``retention``, the share of the source's users with a session
    in the last `RETENTION_DAYS` days."""
    mv = model.datacollector.model_vars
    days = len(mv["day"])
    kept = sum(1 for u in origin.resumed if u.last_day >= days - RETENTION_DAYS)
    n = len(origin.state.users)
    return {"issuance": float(sum(mv["issued_today"])), "free_issuance": float(sum(mv["free_issued_today"])),
            "burn": float(sum(mv["burned_today"])),
            "supply": float(mv["circulating"][-1]), "revenue_cents": float(sum(mv["revenue_cents_today"])),
            "actives": statistics.fmean(mv["logins_today"]) if days else 0.0,
            "retention": kept / n if n else 0.0,
            "gini": gini(model.user_balances())}


@dataclass
class Forecast:
    """A forecast: per variant and seed the figures, and the paired differences."""

    group: str
    source: str
    from_day: date
    changes: list[str]
    seeds: list[int]
    figures: dict[str, list[dict[str, float]]]
    run_ids: dict[str, list[str]]

    @property
    def no_change(self) -> bool:
        return not self.changes

    def summary(self, variant: str, metric: str) -> Interval:
        return interval(f[metric] for f in self.figures[variant])

    def difference(self, metric: str) -> Interval:
        return paired([f[metric] for f in self.figures["new"]], [f[metric] for f in self.figures["current"]])


def forecast(root: str | Path, config: str | Path, *, source: str = "prod", days: int = 90, seeds: int = 5,
             scenario: str | Path = "baseline", write: bool = True,
             on_day: Callable[[int, int], None] | None = None) -> Forecast:
    """From ``source``'s state on its last day, simulate ``days`` days under ``scenario``
    (the current config) and under it with ``config``'s overrides, on the same seeds."""
    root = Path(root)
    if days < 1 or seeds < 1:
        raise ForecastError(f"--days and --seeds must be >= 1 (got {days}, {seeds})")
    try:
        current = load_scenario(scenario)
    except ConfigError as err:
        raise ForecastError(str(err)) from None
    new = load_new_config(scenario, config)
    state = read_state(root, source)
    changes = _changes(current, new)
    group = "fc-" + hashlib.sha256(f"{source}|{state.day}|{days}|{seeds}|{current.parameters()}|"
                                   f"{new.parameters()}".encode()).hexdigest()[:10]
    variants = {"current": current} if not changes else {"current": current, "new": new}
    figures: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    run_ids: dict[str, list[str]] = {v: [] for v in variants}
    seed_list = list(range(1, seeds + 1))
    for seed in seed_list:
        for variant, sc in variants.items():
            rid = f"{group}-{variant}-s{seed}"
            meta = {"variant": variant, "group": group, "from_day": state.day.isoformat(), "source": source}
            model, res, origin = run_from_state(sc, state, days=days, seed=seed, root=root if write else None,
                                                run_id=rid, kind="forecast", meta=meta, on_day=on_day)
            figures[variant].append(outcome(model, origin))
            run_ids[variant].append(res.run_id)
    return Forecast(group, source, state.day, changes, seed_list, figures, run_ids)

