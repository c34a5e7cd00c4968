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
ended with a loss.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger import BURN, MINT
from ledger.economy.payments import STRIPE
from ledger.economy.rules import PLATFORM

from .model import ADVERSARIES, BONUS, PURCHASED, gini, top_share

if TYPE_CHECKING:
    from .model import EconomyModel

__all__ = ["PnL", "pump_pnl", "summarize"]


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
    if model.ring_targets:
        pnl = pump_pnl(model)
        sellers = {s.account for s in model.sellers}
        ring = {a for a, role in model.roles.items() if role == "ring"}
        others = [v for a, v in pnl.items() if a.startswith("user:") and a not in ring and a not in sellers
                  and model.roles.get(a) not in ADVERSARIES]
        out.update(
            ring_targets=sorted(model.ring_targets),
            ring_profit=sum(v.realised for a, v in pnl.items() if a in ring),
            ring_profit_mtm=sum(v.mtm for a, v in pnl.items() if a in ring),
            victims=sum(1 for v in others if v.realised < 0),
            victims_losses=-sum(v.realised for v in others if v.realised < 0),
            victims_losses_mtm=-sum(v.mtm for v in others if v.mtm < 0),
        )
    else:
        out.update(ring_targets=[], ring_profit=0, ring_profit_mtm=0, victims=0, victims_losses=0,
                   victims_losses_mtm=0)
    return out
