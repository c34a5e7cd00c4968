"""Market alerts in words, and which accounts a simulation made adversarial.

Defense reasons are already sentences (``buy limit 111 outside band 90..110``); detector
flags carry their evidence as JSON (`market.detector.Alert`), which `in_words` turns into
one sentence a product owner can read.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ADVERSARIAL_ROLES", "in_words"]

# Simulated agent roles that attack the economy (sim/agents.py): pump rings and sybil farmers.
ADVERSARIAL_ROLES = ("ring", "sybil")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def in_words(name: str | None, reason: str | None) -> str:
    """One sentence for an alert ``name`` with its ``reason`` (text, or detector JSON)."""
    if not reason:
        return ""
    try:
        ev: Any = json.loads(reason)
    except ValueError:
        return reason
    if not isinstance(ev, dict):
        return reason
    th = ev.get("thresholds", {})
    if name == "wash_trading":
        accounts = ev.get("accounts", [])
        return (f"{len(accounts)} accounts ({', '.join(accounts)}) traded with each other in "
                f"{ev.get('trades_inside')} of the {ev.get('trades_involving')} trades they took part in within "
                f"{_hours(ev.get('window_s', 0))} (flagged from {th.get('wash_min_trades')} trades inside a group "
                f"of at most {th.get('wash_max_accounts')} accounts).")
    if name == "price_volume_spike":
        return (f"Price moved {ev.get('direction')} {ev.get('move_bps', 0) / 100:.1f}% to {ev.get('price')} "
                f"(from {ev.get('reference_price')}; {ev.get('z_score', 0):.1f} standard deviations) on "
                f"{ev.get('volume_ratio', 0):.1f}x the usual volume (flagged above {th.get('return_z')} sd and "
                f"{th.get('volume_ratio')}x).")
    if name == "buy_burst":
        by = ev.get("orders_by_account", {})
        who = ", ".join(f"{a} ({n})" for a, n in by.items())
        return (f"{ev.get('taker_buy_orders')} market buys in {ev.get('seconds', 0):.0f} s from {len(by)} "
                f"account(s): {who} (flagged from {th.get('burst_orders')} orders by at most "
                f"{th.get('burst_max_accounts')} accounts).")
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in ev.items() if k != "thresholds"]
    return "; ".join(parts)
