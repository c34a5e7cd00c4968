"""The run summary: the stress findings of one run, as plain numbers.

supply growth, issuance vs burn, concentration (Gini, top-1% share of users' COIN),
revenue, the pump-and-dump's victims' losses and ring profit, defenses fired, and
the coins sybils farmed. Amounts are integers (COIN, or US cents); shares are floats.

Pump-and-dump P&L is measured on the ring's target coins from the trade tape: each
account's COIN in and out (fees included) plus the coins it still holds from buying,
marked at the final price. Coins sold beyond what an account bought (earned or
allocated coins) count as acquired for free, so selling them is never a loss.
Victims are the user accounts outside the ring (and not the coin's seller) that
ended with a loss.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from ledger import BURN, MINT
from ledger.economy.payments import STRIPE
from ledger.economy.rules import PLATFORM

from .model import gini, top_share

if TYPE_CHECKING:
    from .model import EconomyModel

__all__ = ["pump_pnl", "summarize"]


def pump_pnl(model: EconomyModel) -> dict[str, int]:
    """P&L in COIN per account on the ring's target coins (see the module docstring)."""
    cash: dict[str, int] = defaultdict(int)
    qty: dict[tuple[str, str], int] = defaultdict(int)
    for t in model.tape:
        if t.symbol not in model.ring_targets:
            continue
        cash[t.buyer] -= t.quote + t.buyer_fee
        cash[t.seller] += t.quote - t.seller_fee
        qty[(t.buyer, t.symbol)] += t.quantity
        qty[(t.seller, t.symbol)] -= t.quantity
    pnl = dict(cash)
    for (acct, sym), q in qty.items():
        if q > 0:
            pnl[acct] = pnl.get(acct, 0) + q * model.price(sym)
    return pnl


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
        "defenses_fired": len(model.defense_alerts),
        "defenses_by_kind": dict(sorted(Counter(a.defense for a in model.defense_alerts).items())),
        "detector_alerts": len(model.detector_alerts),
        "sybil_farmed": c["sybil_farmed"],
        "stakes": c["stakes"], "pools_resolved": c["pools_resolved"],
        "webhook_outcomes": dict(sorted(model.stripe.outcomes.items())),
    }
    if model.ring_targets:
        pnl = pump_pnl(model)
        sellers = {s.account for s in model.sellers}
        ring = {a for a, role in model.roles.items() if role == "ring"}
        victims = [v for a, v in pnl.items() if a.startswith("user:") and a not in ring and a not in sellers and v < 0]
        out.update(
            ring_targets=sorted(model.ring_targets),
            ring_profit=sum(v for a, v in pnl.items() if a in ring),
            victims=len(victims),
            victims_losses=-sum(victims),
        )
    else:
        out.update(ring_targets=[], ring_profit=0, victims=0, victims_losses=0)
    return out
