"""`coinlab check`: prove a store's balances from its journal alone.

Replays every entry and verifies: each entry's before/after arithmetic, that each
account's entries chain (an entry's `before` is the previous entry's `after`), that the
replayed balances equal the stored ones, that every asset sums to zero, that no account
that may not go negative is negative, and that escrow holds exactly the LOCKED holds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from .model import ESCROW, HoldStatus
from .store import Store

__all__ = ["CheckReport", "check_store"]


class CheckReport(NamedTuple):
    entries: int
    accounts: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_store(store: Store, *, max_problems: int = 100) -> CheckReport:
    snapshot = getattr(store, "snapshot", None)
    if snapshot is not None:  # SQL: read every input from one consistent snapshot
        with snapshot() as view:
            return _check(view, max_problems)
    return _check(store, max_problems)


def _check(store: Store, max_problems: int) -> CheckReport:
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < max_problems:
            problems.append(text)

    replayed: dict[tuple[str, str], int] = defaultdict(int)
    n = 0
    for e in store.iter_journal():
        n += 1
        if e.amount <= 0:
            problem(f"entry {e.id}: non-positive amount {e.amount}")
        if e.from_after != e.from_before - e.amount or e.to_after != e.to_before + e.amount:
            problem(f"entry {e.id}: before/after do not add up to the amount {e.amount}")
        fkey, tkey = (e.from_account, e.asset), (e.to_account, e.asset)
        if replayed[fkey] != e.from_before:
            problem(f"entry {e.id}: {e.from_account} had {replayed[fkey]} {e.asset}, entry says {e.from_before}")
        replayed[fkey] -= e.amount
        if replayed[tkey] != e.to_before:
            problem(f"entry {e.id}: {e.to_account} had {replayed[tkey]} {e.asset}, entry says {e.to_before}")
        replayed[tkey] += e.amount

    stored = {(acct, asset): bal for acct, asset, bal in store.stored_balances()}
    for key in sorted(set(stored) | set(replayed)):
        want, have = replayed.get(key, 0), stored.get(key, 0)
        if want != have:
            problem(f"balance {key[0]} {key[1]}: stored {have}, journal gives {want}")

    totals: dict[str, int] = defaultdict(int)
    for (_acct, asset), bal in stored.items():
        totals[asset] += bal
    for asset, total in sorted(totals.items()):
        if total != 0:
            problem(f"asset {asset}: balances sum to {total}, not 0")

    negative_ok = store.negative_allowed()
    for (acct, asset), bal in sorted(stored.items()):
        if bal < 0 and acct not in negative_ok:
            problem(f"balance {acct} {asset} is negative ({bal})")

    locked: dict[str, int] = defaultdict(int)
    for hold in store.all_holds():
        if hold.amount <= 0:
            problem(f"hold {hold.id}: non-positive amount {hold.amount}")
        if hold.status == HoldStatus.LOCKED:
            locked[hold.asset] += hold.amount
    escrow_assets = {asset for (acct, asset) in stored if acct == ESCROW} | set(locked)
    for asset in sorted(escrow_assets):
        if stored.get((ESCROW, asset), 0) != locked.get(asset, 0):
            problem(
                f"escrow {asset}: holds {stored.get((ESCROW, asset), 0)} but LOCKED holds add up to {locked.get(asset, 0)}"
            )
    return CheckReport(n, len({acct for acct, _ in stored}), tuple(problems))
