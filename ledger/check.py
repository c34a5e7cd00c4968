"""`coinlab check`: prove a store's balances from its journal alone, and the journal
from its hash chain.

Replays every entry and verifies: each entry's before/after arithmetic, that each
account's entries chain (an entry's `before` is the previous entry's `after`), that the
replayed balances equal the stored ones, that every asset sums to zero, that no account
that may not go negative is negative, and that escrow holds exactly the LOCKED holds.

Authenticity: recomputes the hash chains (ledger.engine.entry_hash; the journal is a
few chains, so concurrent writers need not wait for each other's disk flush, see
ledger.sql.schema.journal_head) and compares them with the hashes stored with the
entries and the stored heads, so an entry changed, inserted or deleted after it was
written shows even when its balances add up. The report's ``anchor`` is the recomputed
heads: kept somewhere else, it is what ``expect_anchor`` later proves the history up to
it against, even if someone rewrote every chain. Cross-checks the tables: every entry has its transaction,
every transaction its entries, every idempotency key its transaction and every keyed
transaction its key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

from .engine import GENESIS, entry_hash
from .model import ESCROW, HoldStatus
from .store import Store

__all__ = ["CheckReport", "check_store"]


class CheckReport(NamedTuple):
    entries: int
    accounts: int
    problems: tuple[str, ...]
    # The recomputed chains' heads: `<last entry id>:<hash>` of chain 1, then
    # `<chain>:<last entry id>:<hash>` of each other chain with entries, joined by commas.
    anchor: str = f"0:{GENESIS}"

    @property
    def ok(self) -> bool:
        return not self.problems


def check_store(store: Store, *, max_problems: int = 100, expect_anchor: str | None = None) -> CheckReport:
    """``expect_anchor``: an anchor an earlier check reported (see `CheckReport.anchor`;
    a bare hash means chain 1 at any entry); a problem unless every chain it names still
    has that hash at that entry."""
    snapshot = getattr(store, "snapshot", None)
    if snapshot is not None:  # SQL: read every input from one consistent snapshot
        with snapshot() as view:
            return _check(view, max_problems, expect_anchor)
    return _check(store, max_problems, expect_anchor)


def _parse_anchor(anchor: str) -> dict[int, tuple[int | None, str]]:
    """chain -> (entry id or None, hash) of each part of an anchor."""
    wanted: dict[int, tuple[int | None, str]] = {}
    for part in anchor.strip().split(","):
        fields = part.strip().split(":")
        if len(fields) > 3 or not all(f.isdigit() for f in fields[:-1]) or not fields[-1]:
            raise ValueError(f"an anchor is <entry id>:<hash>, or <chain>:<entry id>:<hash> for each chain, "
                             f"joined by commas; got {anchor!r}")
        chain = int(fields[0]) if len(fields) == 3 else 1
        wanted[chain] = (int(fields[-2]) if len(fields) > 1 else None, fields[-1].lower())
    return wanted


def _anchor(heads: dict[int, tuple[int, str]]) -> str:
    """The recomputed heads as an anchor: ``<last id>:<hash>`` for chain 1, and
    ``<chain>:<last id>:<hash>`` for each other chain that has entries."""
    parts = [f"{at}:{h}" if c == 1 else f"{c}:{at}:{h}" for c, (at, h) in sorted(heads.items())]
    return ",".join(parts) or f"0:{GENESIS}"


def _check(store: Store, max_problems: int, expect_anchor: str | None = None) -> CheckReport:
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < max_problems:
            problems.append(text)

    wanted = _parse_anchor(expect_anchor) if expect_anchor else {}
    missing = {c for c, (at, h) in wanted.items() if not (h == GENESIS and at in (None, 0))}
    replayed: dict[tuple[str, str], int] = defaultdict(int)
    entry_keys: dict[str, str | None] = {}  # tx id -> the idempotency key its entries carry
    n = 0
    # Per chain: `chained` is the chain recomputed from genesis (what anchors are);
    # `prev` follows the stored hashes, so one changed entry is reported once, not with
    # all after it; `ends` is its last entry id.
    chained: dict[int, str] = {}
    prev: dict[int, str] = {}
    ends: dict[int, int] = {}
    last_id = 0
    for e, chain, stored_hash in store.iter_chain():
        n += 1
        before = prev.get(chain, GENESIS)
        expected = entry_hash(before, e)
        was = chained.get(chain, GENESIS)
        chained[chain] = expected if was == before else entry_hash(was, e)
        if stored_hash is None:
            problem(f"entry {e.id}: no chain hash")
        elif stored_hash != expected:
            problem(f"entry {e.id}: its hash does not match its fields and the entry before it in chain {chain} "
                    "(the journal was changed after it was written)")
        prev[chain] = stored_hash or expected
        if e.id <= last_id:
            problem(f"entry {e.id}: ids out of order after {last_id}")
        last_id = ends[chain] = e.id
        if chain in missing:
            at, want_hash = wanted[chain]
            if chained[chain] == want_hash and at in (None, e.id):
                missing.discard(chain)
        tx_key = entry_keys.setdefault(e.tx_id, e.idempotency_key)
        if tx_key != e.idempotency_key:
            problem(f"entry {e.id}: idempotency key {e.idempotency_key!r}, its transaction's other entries {tx_key!r}")

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

    if missing:
        problem(f"anchor {expect_anchor}: the journal's history up to it has changed in chain "
                f"{', '.join(map(str, sorted(missing)))} (or it is not in this journal)")
    heads = store.chain_heads()
    if heads is not None:
        for chain in sorted(heads.keys() | ends.keys()):
            stored_at, stored_hash = heads.get(chain, (0, ""))
            at, h = ends.get(chain, 0), prev.get(chain, GENESIS)
            if (stored_at, stored_hash) != (at, h):
                problem(f"chain {chain} head: stored {stored_at}:{stored_hash or '-'}, journal ends at {at}:{h}")
    _cross_check(store, entry_keys, problem)

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
    anchor = _anchor({c: (ends[c], h) for c, h in chained.items()})
    return CheckReport(n, len({acct for acct, _ in stored}), tuple(problems), anchor)


def _cross_check(store: Store, entry_keys: dict[str, str | None], problem: Callable[[str], None]) -> None:
    """Transactions, entries and idempotency keys agree with each other."""
    txs: dict[str, str | None] = {}
    for tx in store.iter_transactions():
        txs[tx.id] = tx.idempotency_key
        if tx.id not in entry_keys:
            problem(f"transaction {tx.id}: no journal entries")
        elif entry_keys[tx.id] != tx.idempotency_key:
            problem(f"transaction {tx.id}: idempotency key {tx.idempotency_key!r}, "
                    f"its entries say {entry_keys[tx.id]!r}")
    for tx_id in entry_keys.keys() - txs.keys():
        problem(f"entries of transaction {tx_id}: no such transaction")
    keyed: dict[str, str] = {}
    for key, tx_id in store.iter_keys():
        keyed[key] = tx_id
        if tx_id not in txs:
            problem(f"idempotency key {key!r}: its transaction {tx_id} does not exist")
        elif txs[tx_id] != key:
            problem(f"idempotency key {key!r}: its transaction {tx_id} has key {txs[tx_id]!r}")
    for tx_id, tx_key in txs.items():
        if tx_key is not None and keyed.get(tx_key) != tx_id:
            problem(f"transaction {tx_id}: its idempotency key {tx_key!r} is missing "
                    "(a retry with it would apply the request again)")
    if len(txs) != len(entry_keys) or sum(k is not None for k in txs.values()) != len(keyed):
        problem(f"counts: {len(txs)} transactions, {len(entry_keys)} in the journal; "
                f"{sum(k is not None for k in txs.values())} keyed transactions, {len(keyed)} keys")
