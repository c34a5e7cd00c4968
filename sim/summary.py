"""The run summary: the stress findings of one run, as plain numbers.

supply growth, issuance vs burn (by kind and by entry type), free issuance per active
user-day, concentration (Gini, top-1% share of users' COIN), revenue and repeat
purchases, honest trading volume, the pump-and-dump's victims' losses and the ring's
profit, defenses fired, and the coins sybils farmed. Amounts are integers (COIN, or US
cents); shares are floats.

Pump-and-dump P&L is measured on the ring's target coins from the trade tape, per
account: *realised* is COIN in minus COIN out (fees included), so coins still held
count for nothing; *mark-to-market* adds the coins still held at the final price (a
last trade the ring may have made itself). Profit and loss are spoken of in realised
terms (``ring_profit``, ``victims_losses``); the ``*_mtm`` figures are beside them. Victims are the user accounts outside the ring (and not the coin's seller) that
ended with a loss. A ring that redeems target coins at the seller's shop (the wash-trade
ladder) takes their value at the price it set: ``ring_redeem_value``, counted in
``ring_profit``.

For sweeps, `flat_metrics` turns a summary into ``metric -> number`` and `metric_names`
lists every metric a scenario's runs report (so a sweep can refuse an unknown one
before it runs).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger import BURN, MINT
from ledger.economy.payments import STRIPE
from ledger.economy.rules import PLATFORM

from .model import ADVERSARIES, BONUS, PURCHASED, gini, top_share

if TYPE_CHECKING:
    from .model import EconomyModel

__all__ = ["SCALAR_METRICS", "STABILITY", "PnL", "flat_metrics", "metric_names", "price_stability", "pump_pnl",
           "summarize"]

# Price stability per coin (``<stat>.<SYMBOL>``, and the mean over coins as ``<stat>``):
# the standard deviation of hourly log returns of the 1h closes, the largest fall from a
# running peak of the hourly closes (a share of the peak), the mean relative spread
# (bps of the mid, sampled hourly while both sides of the book have orders) and the
# mean COIN value resting within 2% of the mid (sampled hourly; for a bonding curve,
# what moving its price 2% up and down costs and pays).
STABILITY = ("volatility_hourly", "max_drawdown", "spread_bps", "depth_2pct_coin")
# Summary figures keyed by name inside a table: flattened as ``<table>.<key>``.
_DEFENSES = ("price_band", "circuit_breaker", "daily_limit", "holding_cap", "min_hold", "vesting", "price_floor",
             "rate_limit")


class PnL(NamedTuple):
    """One account's P&L in COIN on the ring's target coins."""

    realised: int
    mtm: int


def pump_pnl(model: EconomyModel) -> dict[str, PnL]:
    """Realised and mark-to-market P&L per account on the ring's target coins."""
    cash: dict[str, int] = defaultdict(int)
    held: dict[tuple[str, str], int] = defaultdict(int)
    for t in model.tape:
        if t.symbol not in model.ring_targets:
            continue
        cash[t.buyer] -= t.quote + t.buyer_fee
        cash[t.seller] += t.quote - t.seller_fee
        held[(t.buyer, t.symbol)] += t.quantity
        held[(t.seller, t.symbol)] -= t.quantity
    marks: dict[str, int] = defaultdict(int)
    for (acct, sym), q in held.items():
        if q > 0:  # coins sold beyond those bought were acquired for free: no mark below zero
            marks[acct] += q * model.price(sym)
    return {acct: PnL(c, c + marks[acct]) for acct, c in cash.items()}


def price_stability(model: EconomyModel) -> dict[str, dict[str, float | None]]:
    """`STABILITY` figures per coin, from the 1h candles and the hourly book samples."""
    from datetime import timedelta

    start = model.clock.start
    end = start + timedelta(days=model.pop.days)
    out: dict[str, dict[str, float | None]] = {}
    for sym in sorted(model.brand_coins):
        closes = [c.close for c in model.candles.candles(sym, "1h", start, end) if c.close]
        rets = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False) if a > 0 and b > 0]
        peak, dd = 0, 0.0
        for c in closes:
            peak = max(peak, c)
            dd = max(dd, (peak - c) / peak)
        sp_sum, sp_n, dep_sum, dep_n = model.market_samples.get(sym, (0, 0, 0, 0))
        out[sym] = {
            "volatility_hourly": round(statistics.pstdev(rets), 6) if len(rets) > 1 else 0.0,
            "max_drawdown": round(dd, 6),
            "spread_bps": round(sp_sum / sp_n, 2) if sp_n else None,
            "depth_2pct_coin": round(dep_sum / dep_n, 1) if dep_n else None,
        }
    return out


def _stability_figures(model: EconomyModel) -> dict[str, Any]:
    per_coin = price_stability(model)
    out: dict[str, Any] = {"price_stability": per_coin}
    for stat in STABILITY:
        xs = [v[stat] for v in per_coin.values() if v[stat] is not None]
        out[stat] = round(statistics.fmean(xs), 6) if xs else None  # type: ignore[arg-type]
        targets = sorted(model.ring_targets)
        out[f"target_{stat}"] = per_coin[targets[0]][stat] if targets else None
    return out


def _revenue_by_package(model: EconomyModel) -> dict[str, int]:
    """Net USD cents per package (paid price less refunds), every configured package listed."""
    out = dict.fromkeys(sorted(model.config.packages), 0)
    for p in model.economy.payments.store.all():
        if p.paid_at is not None:
            out[p.package_id] = out.get(p.package_id, 0) + p.price_cents - (p.refunded_cents or 0)
    return out


def _sybil_figures(model: EconomyModel) -> dict[str, Any]:
    """What sybil farmers got: ``sybil_issued`` (COIN minted to their accounts),
    ``sybil_extracted`` (COIN their accounts hold at the end: what they walk away with,
    net of the stakes and spends they paid to qualify) and the free issuance that went to
    everyone else (``honest_free_issued``)."""
    balances = model.ledger.store.book.balances  # type: ignore[attr-defined]
    roles = model.roles
    extracted = sum(b for (a, asset), b in balances.items() if asset == "COIN" and roles.get(a) == "sybil")
    return {"sybil_issued": model.counts["sybil_issued"], "sybil_extracted": extracted}


def _flow_figures(model: EconomyModel) -> dict[str, Any]:
    issued, burned = dict(model.issued_by_type), dict(model.burned_by_type)
    bought, bonus = issued.get(PURCHASED, 0), issued.get(BONUS, 0)
    free = sum(issued.values()) - bought - bonus
    user_days = sum(model.datacollector.model_vars.get("logins_today", []))
    return {
        "free_issued": free, "purchased_issued": bought, "bonus_issued": bonus,
        "free_issued_per_active_user_day": round(free / user_days, 3) if user_days else None,
        "house_burn": burned.get("HOUSE_FEE_BURN", 0), "dust_burn": burned.get("DUST_BURN", 0),
        "redeem_burn": burned.get("REDEEM_BURN", 0),
        "issued_by_type": dict(sorted(issued.items())), "burned_by_type": dict(sorted(burned.items())),
    }


def _purchase_figures(model: EconomyModel) -> dict[str, Any]:
    per_user = Counter(p.user_id for p in model.economy.payments.store.all() if p.paid_at is not None)
    payers = len(per_user)
    return {"payers": payers, "repeat_payers": sum(1 for n in per_user.values() if n > 1),
            "repeat_purchase_rate": round(sum(1 for n in per_user.values() if n > 1) / payers, 4) if payers else 0.0}


def summarize(model: EconomyModel) -> dict[str, Any]:
    ledger, c = model.ledger, model.counts
    issued, burned = -ledger.balance(MINT), ledger.balance(BURN)
    balances = model.user_balances()
    rows = model.datacollector.model_vars
    circ = rows.get("circulating", [])
    first = circ[0] if circ else 0
    out: dict[str, Any] = {
        "scenario": model.scenario.name, "seed": model.pop.seed, "users": model.pop.users, "days": model.pop.days,
        "issued": issued, "burned": burned, "circulating": issued - burned,
        "supply_growth": (issued - burned) - first,
        "supply_growth_pct": round(100.0 * ((issued - burned) - first) / first, 2) if first else None,
        "issuance_per_day": round(issued / max(1, model.pop.days), 1),
        "burn_to_issuance": round(burned / issued, 4) if issued else 0.0,
        "spent_to_platform": ledger.balance(PLATFORM),
        "gini": round(gini(balances), 4), "top1_share": round(top_share(balances), 4),
        "revenue_cents": ledger.balance(PLATFORM, "USD"),
        "gross_sales_cents": -ledger.balance(STRIPE, "USD") + sum(model.stripe.refunded.values()),
        "refunded_cents": sum(model.stripe.refunded.values()),
        "paid_sessions": len(model.stripe.paid), "checkouts": c["checkouts"],
        "logins": sum(rows.get("logins_today", [])), "arrivals": c["arrivals"], "votes": c["votes"],
        "unlocks": c["unlocks"], "daily_bonus_denied": c["daily_bonus_denied"],
        "trades": c["trades"], "trade_volume_coin": c["trade_volume_coin"],
        "honest_volume_coin": c["honest_volume_coin"],
        "wants_given_up": c["wants_given_up"], "churned": c["churned"],
        "defenses_fired": len(model.defense_alerts),
        "defenses_by_kind": dict(sorted(Counter(a.defense for a in model.defense_alerts).items())),
        "detector_alerts": len(model.detector_alerts),
        "sybil_farmed": c["sybil_farmed"],
        "stakes": c["stakes"], "pools_resolved": c["pools_resolved"],
        "webhook_outcomes": dict(sorted(model.stripe.outcomes.items())),
    }
    out.update(_flow_figures(model))
    out.update(_purchase_figures(model))
    out.update(_sybil_figures(model))
    out["honest_free_issued"] = out["free_issued"] - out["sybil_issued"]
    out["revenue_cents_by_package"] = _revenue_by_package(model)
    out.update(_stability_figures(model))
    if model.ring_targets:
        pnl = pump_pnl(model)
        sellers = {s.account for s in model.sellers}
        ring = {a for a, role in model.roles.items() if role == "ring"}
        others = [v for a, v in pnl.items() if a.startswith("user:") and a not in ring and a not in sellers
                  and model.roles.get(a) not in ADVERSARIES]
        out.update(
            ring_targets=sorted(model.ring_targets),
            # a shop redemption at a price the ring pushed up is value taken too (from the seller)
            ring_redeem_value=model.counts["ring_redeem_value"],
            ring_profit=sum(v.realised for a, v in pnl.items() if a in ring) + model.counts["ring_redeem_value"],
            ring_profit_mtm=sum(v.mtm for a, v in pnl.items() if a in ring),
            victims=sum(1 for v in others if v.realised < 0),
            victims_losses=-sum(v.realised for v in others if v.realised < 0),
            victims_losses_mtm=-sum(v.mtm for v in others if v.mtm < 0),
        )
    else:
        out.update(ring_targets=[], ring_profit=0, ring_profit_mtm=0, ring_redeem_value=0, victims=0, victims_losses=0,
                   victims_losses_mtm=0)
    return out


# Every numeric scalar figure of `summarize` (what a sweep can report besides the tables
# flattened by `flat_metrics`); tests/sim check the two agree.
SCALAR_METRICS = (
    "issued", "burned", "circulating", "supply_growth", "supply_growth_pct", "issuance_per_day",
    "burn_to_issuance", "spent_to_platform", "gini", "top1_share", "revenue_cents", "gross_sales_cents",
    "refunded_cents", "paid_sessions", "checkouts", "logins", "arrivals", "votes", "unlocks", "daily_bonus_denied",
    "trades", "trade_volume_coin", "honest_volume_coin", "wants_given_up", "churned", "defenses_fired",
    "detector_alerts", "sybil_farmed", "stakes", "pools_resolved", "free_issued", "purchased_issued",
    "bonus_issued", "free_issued_per_active_user_day", "house_burn", "dust_burn", "redeem_burn", "payers",
    "repeat_payers", "repeat_purchase_rate", "sybil_issued", "sybil_extracted", "honest_free_issued",
    "ring_profit", "ring_profit_mtm", "ring_redeem_value", "victims", "victims_losses", "victims_losses_mtm",
    *STABILITY, *(f"target_{s}" for s in STABILITY),
)


def _coins(scenario: Any) -> list[str]:
    pop = scenario.population
    mk = pop.market
    n = mk.sellers if mk.shoppers or mk.traders or pop.pump.rings else 0
    return [f"SHOP{i + 1}" for i in range(n)]


def metric_names(scenario: Any) -> set[str]:
    """Every metric a run of ``scenario`` (a `sim.scenario.Scenario`) reports."""
    names = set(SCALAR_METRICS)
    names |= {f"revenue_cents_by_package.{p}" for p in scenario.config.packages}
    names |= {f"defenses_by_kind.{d}" for d in _DEFENSES}
    names |= {f"{stat}.{sym}" for stat in STABILITY for sym in _coins(scenario)}
    return names


def flat_metrics(summary: dict[str, Any]) -> dict[str, float | None]:
    """A run summary as ``metric -> number`` (None when undefined, e.g. no spread
    without a two-sided book): the scalars, revenue by package, defenses by kind (0 when
    a defense never acted) and price stability per coin."""
    out: dict[str, float | None] = {}
    for k in SCALAR_METRICS:
        v = summary.get(k)
        out[k] = None if v is None else float(v)
    for pkg, cents in summary.get("revenue_cents_by_package", {}).items():
        out[f"revenue_cents_by_package.{pkg}"] = float(cents)
    fired = summary.get("defenses_by_kind", {})
    for d in _DEFENSES:
        out[f"defenses_by_kind.{d}"] = float(fired.get(d, 0))
    for sym, stats in summary.get("price_stability", {}).items():
        for stat, v in stats.items():
            out[f"{stat}.{sym}"] = None if v is None else float(v)
    return out
