"""The behaviour model: how simulated users respond to the economy.

Every user draws latent traits once (`draw_traits`); the rest is pure functions of
those traits, the economy config and what happened to the user, so a product owner
who changes a reward, a price or a bonus changes what users do:

- **Sessions.** The daily chance of a session is a logistic function of the user's
  engagement, what the session pays (the login reward; the streak bonus when the next
  login completes a streak), whether the balance covers what they want to do, and the
  time since they joined (novelty wears off, with diminishing returns: log of age).
- **Churn.** A daily hazard, logistic in the user's satisfaction. Satisfaction is a
  leaky sum: rewards received and wants fulfilled raise it; wants given up (refused,
  unaffordable, a defense) and losses (bets, trades) lower it; it halves every
  ``satisfaction_half_life_days``. No fixed lifetime.
- **Wants.** Each session creates wants (votes, deep-analysis unlocks, belt challenges,
  and for bettors pool stakes) at rates scaled by the user's appetite and risk traits.
  A want the balance cannot cover leads to a purchase decision; if the user buys
  nothing it is given up.
- **Package choice.** A multinomial logit over the active packages and "buy nothing":
  a package's utility is the value of its coins (bonus, PRO bonus and promo included)
  at the user's willingness to pay per coin, with diminishing returns beyond the coins
  the user needs for ``need_days``, minus its price. Buying more bonus coins now means
  the balance lasts longer, so fewer purchases later: a bonus has a cost.

Between two sessions the chances stay what they were at the last one (state only
changes at a session, when the user acts), which lets the next session or the churn
be drawn in one step (`next_event`): an idle user costs nothing.

Defaults: the stylized facts the population must reproduce are published benchmarks
of free-to-play apps (day-N retention D1 25-45%, D7 10-25%, D30 3-12%: GameAnalytics
2019 and AppsFlyer 2023 mobile retention benchmarks; payer conversion 1-8%: Swrve
2019 monetization report ~2%, deltaDNA 1.5-5%; the top 10% of payers bring >= 40% of
revenue: Swrve 2016, ~50% from the top 10%). The parameters below have no published
value of their own. Those marked "fit" were fit together by a random search
(bench/fit_defaults.py) so that the default population reproduces those shapes (the
tests hold it to them: tests/sim/test_behaviour_facts.py); the others are stated
assumptions, and the facts do not pin them down (the size of the response to a reward,
for one). `coinlab sim calibrate` is meant to replace both with a fit to production.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Behaviour",
    "Traits",
    "choice_probability",
    "churn_hazard",
    "choose_package",
    "draw_traits",
    "next_event",
    "package_value",
    "session_chance",
]


class Behaviour(BaseModel):
    """The scenario's ``[behaviour]`` table. Chances are per user per day unless said."""

    # the docstring under each field is its description (unit: meaning), shown by
    # `coinlab sim behaviour` and in the JSON schema
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    # -- traits: population distributions ------------------------------------------------
    engagement_median: float = Field(default=0.25, gt=0, lt=1)
    """probability: median base daily session chance (before rewards, wants and age)."""
    engagement_sigma: float = Field(default=2.25, ge=0)
    """logit sd of the base session chance across users (logit-normal; fit)."""
    trait_correlation: float = Field(default=0.65, ge=0, lt=1)
    """0-1: share of the variance of engagement, appetite and willingness to pay that
    comes from one common factor (heavier users want more and pay more; fit: much below
    0.6 payers spend too slowly to buy twice)."""
    reward_sensitivity_median: float = Field(default=0.3, ge=0)
    """logit per log(1 + pay/reward_scale): how much a session's pay draws a user back
    (assumption; not identified by the facts: calibrate it from production)."""
    reward_sensitivity_sigma: float = Field(default=0.5, ge=0)
    """lognormal sigma of reward sensitivity across users (assumption)."""
    wtp_median_cents: float = Field(default=0.08, gt=0)
    """US cents per coin: median value a user puts on a coin (list price is ~1 cent; fit)."""
    wtp_sigma: float = Field(default=1.2, ge=0)
    """lognormal sigma of willingness to pay: its tail above list price are the payers (fit)."""
    appetite_sigma: float = Field(default=1.6, ge=0)
    """lognormal sigma (median 1) of how much a user wants to do per session (fit)."""
    risk_appetite_mean: float = Field(default=0.5, ge=0, le=1)
    """probability-like 0-1: a bettor's mean risk appetite (Beta a+b=2); scales stakes."""
    hype_mean: float = Field(default=0.5, ge=0, le=1)
    """0-1: mean susceptibility to hype (Beta a+b=2): chance a follower acts on a hype."""

    signup_share: float = Field(default=0.7, ge=0, le=1)
    """probability: a new user creates an account (+signup reward) (assumption)."""
    newsletter_share: float = Field(default=0.3, ge=0, le=1)
    """probability: a user who signs up also opts in to the newsletter (assumption)."""

    # -- sessions ---------------------------------------------------------------------------
    reward_scale_coins: float = Field(default=2.0, gt=0)
    """coins: the pay at which a session's reward term is log 2 (the seeds' daily login)."""
    afford_weight: float = Field(default=0.3, ge=0)
    """logit: added to the session chance when the balance covers a session's wants
    (assumption)."""
    novelty_decay: float = Field(default=0.1, ge=0)
    """logit per log(1 + days since joining): novelty wearing off (fit)."""

    # -- wants --------------------------------------------------------------------------------
    votes_per_session: float = Field(default=0.4, ge=0)
    """count: mean votes a session wants at appetite 1 (assumption; with unlocks, sets the
    journal rows a session makes)."""
    unlocks_per_session: float = Field(default=0.4, ge=0)
    """count: mean deep-analysis unlocks a session wants at appetite 1 (assumption)."""
    claims_per_day: int = Field(default=10, ge=1)
    """count: claims a user can look at per day, each voted on and unlocked at most once
    (caps a session's wants; assumption)."""
    stakes_per_session: float = Field(default=0.8, ge=0)
    """count: mean pool stakes a bettor's session wants at risk appetite 1 (assumption)."""
    challenges_per_session: float = Field(default=0.05, ge=0)
    """count: chance a session wants a belt challenge, at risk appetite and appetite 1 (fit)."""

    # -- purchases ---------------------------------------------------------------------------
    price_sensitivity: float = Field(default=1.0, gt=0)
    """logit per US dollar of surplus in the package choice (assumption: a dollar of
    surplus is one logit unit)."""
    need_days: float = Field(default=30.0, gt=0)
    """days: the period of coin needs a buyer values a package against (assumption: a month)."""
    need_discount: float = Field(default=0.63, gt=0, le=1)
    """0-1: what a coin needed one period later is worth against one needed now
    (diminishing returns of big packages; assumption)."""
    promo_uptake: float = Field(default=0.5, ge=0, le=1)
    """probability: a buyer uses an eligible promo code (FIRST50 on a first purchase)."""
    pro_share: float = Field(default=0.1, ge=0, le=1)
    """probability: a user is a PRO subscriber (+PRO bonus on every purchase)."""
    trader_wtp_cents: float = Field(default=2.0, gt=0)
    """US cents per coin: median value traders and followers put on a coin (they came to trade)."""

    # -- satisfaction and churn -------------------------------------------------------------
    joy_reward: float = Field(default=0.1, ge=0)
    """satisfaction per log(1 + coins/reward_scale) received, times reward sensitivity
    (assumption)."""
    joy_fulfilled: float = Field(default=0.25, ge=0)
    """satisfaction per log(1 + wants fulfilled) in a session (assumption)."""
    pain_given_up: float = Field(default=0.3, ge=0)
    """satisfaction lost per log(1 + wants given up) in a session (unaffordable and not
    bought, refused; assumption)."""
    pain_loss: float = Field(default=0.5, ge=0)
    """satisfaction lost per log(1 + coins lost/100) on a bet or a trade (assumption;
    gains count 1/2.25 of that: loss aversion, Tversky & Kahneman 1992)."""
    satisfaction_half_life_days: float = Field(default=36.0, gt=0)
    """days: satisfaction halves over this (memory of good and bad experiences; fit)."""
    churn_base: float = Field(default=-1.7)
    """logit of the daily churn hazard at satisfaction 0 (a new user): ~15% a day (fit)."""
    churn_satisfaction: float = Field(default=1.5, ge=0)
    """logit of the hazard lost per unit of satisfaction (fit)."""


@dataclass(slots=True)
class Traits:
    """One user's latent traits, drawn once."""

    engagement_logit: float
    reward_sensitivity: float
    wtp_cents: float
    appetite: float
    risk: float
    hype: float
    is_pro: bool


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _beta(r: random.Random, mean: float, concentration: float) -> float:
    if mean <= 0.0:
        return 0.0
    if mean >= 1.0:
        return 1.0
    return r.betavariate(mean * concentration, (1.0 - mean) * concentration)


def draw_traits(b: Behaviour, r: random.Random, *, wtp_median_cents: float | None = None) -> Traits:
    """Engagement (logit-normal), appetite and willingness to pay (lognormal) share one
    common normal factor with loading sqrt(trait_correlation); the rest are independent."""
    gauss = r.gauss
    load = math.sqrt(b.trait_correlation)
    own = math.sqrt(1.0 - b.trait_correlation)
    common = gauss(0.0, 1.0)

    def z() -> float:
        return load * common + own * gauss(0.0, 1.0)

    return Traits(
        engagement_logit=_logit(b.engagement_median) + b.engagement_sigma * z(),
        reward_sensitivity=b.reward_sensitivity_median * math.exp(gauss(0.0, b.reward_sensitivity_sigma)),
        wtp_cents=(wtp_median_cents or b.wtp_median_cents) * math.exp(b.wtp_sigma * z()),
        appetite=math.exp(b.appetite_sigma * z()),
        risk=_beta(r, b.risk_appetite_mean, 2.0),
        hype=_beta(r, b.hype_mean, 2.0),
        is_pro=r.random() < b.pro_share,
    )


def session_chance(b: Behaviour, t: Traits, *, pay: float, affordable: float, age_days: float) -> float:
    """The chance of a session on a day: ``pay`` coins the session would credit,
    ``affordable`` 0-1 (how much of a session's wants the balance covers), ``age_days``
    since joining."""
    x = (t.engagement_logit + t.reward_sensitivity * math.log1p(pay / b.reward_scale_coins)
         + b.afford_weight * affordable - b.novelty_decay * math.log1p(age_days))
    return 1.0 / (1.0 + math.exp(-x))


def churn_hazard(b: Behaviour, satisfaction: float) -> float:
    """The daily chance of leaving for good."""
    return 1.0 / (1.0 + math.exp(-(b.churn_base - b.churn_satisfaction * satisfaction)))


def next_event(r: random.Random, p_first: float, p_rest: float, hazard: float) -> tuple[int, bool]:
    """Days until the next event and whether it is the churn (else a session).

    Each day the user may leave (``hazard``) and, if not, has a session with chance
    ``p_first`` tomorrow and ``p_rest`` on later days (tomorrow differs: a streak)."""
    q1 = hazard + (1.0 - hazard) * p_first
    u = r.random()
    if u < q1:
        return 1, u < hazard
    q = hazard + (1.0 - hazard) * p_rest
    if q <= 0.0:
        return 1 << 30, True
    if q >= 1.0:
        return 2, r.random() * q < hazard
    gap = 2 + int(math.log(1.0 - r.random()) / math.log(1.0 - q))
    return gap, r.random() * q < hazard


def package_value(coins: int, wtp_cents: float, need_coins: float, discount: float) -> float:
    """What ``coins`` are worth to a user (US cents) who needs ``need_coins`` a period
    and values a coin at ``wtp_cents``: the first period's coins in full, each later
    period's worth ``discount`` times the one before (coins bought now and used later
    are worth less: diminishing returns), ``wtp * need * (1 - d^(coins/need)) / (1 - d)``
    scaled so that a coin used at once is worth ``wtp``."""
    need = max(1.0, need_coins)
    if discount >= 1.0:
        return wtp_cents * coins
    scale = -math.log(discount)  # d^x = exp(-scale x); the first coin is worth wtp
    return wtp_cents * need * -math.expm1(-scale * coins / need) / scale


def choose_package(r: random.Random, options: list[tuple[Any, int, int]], wtp_cents: float, need_coins: float,
                   price_sensitivity: float, discount: float) -> Any | None:
    """Multinomial logit over ``options`` ``(choice, coins, price_cents)`` and buying
    nothing (utility 0). A package's utility is ``price_sensitivity`` per dollar of
    `package_value` minus price. Returns the chosen choice or None."""
    weights, total = _logit_weights(options, wtp_cents, need_coins, price_sensitivity, discount)
    x = r.random() * total
    for choice, w in weights:
        x -= w
        if x < 0.0:
            return choice
    return None


def _logit_weights(options: list[tuple[Any, int, int]], wtp_cents: float, need_coins: float,
                   price_sensitivity: float, discount: float) -> tuple[list[tuple[Any, float]], float]:
    """Each option's exp(utility), and their total with buying nothing's (exp(0))."""
    weights = []
    total = 1.0  # exp(0): buy nothing
    for choice, coins, price in options:
        u = price_sensitivity * (package_value(coins, wtp_cents, need_coins, discount) - price) / 100.0
        w = math.exp(min(50.0, u))
        weights.append((choice, w))
        total += w
    return weights, total


def choice_probability(options: list[tuple[Any, int, int]], chosen: Any, wtp_cents: float, need_coins: float,
                       price_sensitivity: float, discount: float) -> float:
    """The chance `choose_package` picks ``chosen`` (an option's choice; None: nothing)."""
    weights, total = _logit_weights(options, wtp_cents, need_coins, price_sensitivity, discount)
    if chosen is None:
        return 1.0 / total
    return sum(w for c, w in weights if c == chosen) / total
