"""Thin adapters that let the real economy code run at simulation scale.

The production rules read their facts from the journal (``ledger.history`` scans the
entries of an account; the in-memory payment and pool stores scan every row). That is
right for a service and fatal for a million-transaction simulation, so the simulator
keeps the same facts in indexes built from what is actually written:

- `IndexedMemoryStore`: the real `MemoryStore` (same engine, same journal) that also
  indexes, per user, the days of DAILY_LOGIN / STREAK_BONUS credits and of stakes
  (STAKE, BELT_CHALLENGE_ENTRY) as transactions are applied;
- `SimRules`: the real `EconomyRules` with the fact readers (`_login_days`,
  `staked_on`, and the anti-sybil `account_opened` / `activity`) answered from that index; every rule, amount and idempotency key is
  the production code's (tests/sim check the answers match the journal scan);
- `IndexedPaymentStore` / `IndexedPoolStore`: the real memory stores with lookups by
  user, payment intent, pending event and pool indexed instead of scanned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from ledger import MemoryStore
from ledger.economy.payment_store import MemoryPaymentStore, PaymentRecord, StoredEvent
from ledger.economy.pools import MemoryPoolStore, Stake, _check_reserve
from ledger.economy.rules import ACTIVITY, EconomyRules, utc_day
from ledger.engine import post
from ledger.model import EntryType, Transaction, TransferRequest

__all__ = ["IndexedMemoryStore", "IndexedPaymentStore", "IndexedPoolStore", "SimRules"]

_DAY_CREDITS = frozenset({EntryType.DAILY_LOGIN.value, EntryType.STREAK_BONUS.value})
_STAKES = frozenset({EntryType.STAKE.value, EntryType.BELT_CHALLENGE_ENTRY.value})
_FIRSTS = frozenset({EntryType.GUEST_INITIAL.value, EntryType.SIGNUP_BONUS.value, EntryType.DAILY_LOGIN.value})
_ACTIVITY = frozenset(t.value for t in ACTIVITY)
_WATCHED = _DAY_CREDITS | _STAKES | _FIRSTS | _ACTIVITY
# Activity paid by the user and nothing else to index: most postings (`apply`'s fast path).
_SPENDS = _ACTIVITY - _DAY_CREDITS - _STAKES - _FIRSTS - {EntryType.COIN_PURCHASE.value}
# A day's credits all carry the same ref_id: parse each day once.
_parse_day = lru_cache(maxsize=256)(date.fromisoformat)
_MONTH = timedelta(days=30)


class IndexedMemoryStore(MemoryStore):
    """`MemoryStore` plus an index of the journal facts the earn rules read.

    ``day_credits[(account, entry_type)]``: UTC days (``ref_id`` of the credit) on which
    the account got that daily credit; ``stake_days[account]``: the last UTC day the
    account placed a stake (pool stake or belt-challenge entry)."""

    def __init__(self) -> None:
        super().__init__()
        self.day_credits: dict[tuple[str, str], set[date]] = {}
        self.stake_days: dict[str, date] = {}
        self.first_reward: dict[str, datetime] = {}
        self.activity: dict[str, int] = defaultdict(int)

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        # The engine directly (what MemoryStore.apply does): one call less per posting.
        tx = post(self.book, request, now, str(next(self._tx_ids)))
        t, entries = tx.entry_type, tx.entries
        if t in _SPENDS and len(entries) == 1 and not tx.replayed:  # the commonest: a vote or unlock
            self.activity[entries[0].from_account] += 1
        elif t in _WATCHED and not tx.replayed:
            self._index(tx)
        return tx

    def _index(self, tx: Transaction) -> None:
        for e in tx.entries:
            t = e.entry_type
            if t in _FIRSTS and e.to_account not in self.first_reward:
                self.first_reward[e.to_account] = e.time
            if t in _ACTIVITY:
                self.activity[e.to_account if t == EntryType.COIN_PURCHASE else e.from_account] += 1
            if t in _DAY_CREDITS and e.ref_type == "day" and e.ref_id:
                key = (e.to_account, t)
                days = self.day_credits.get(key)
                if days is None:
                    days = self.day_credits[key] = set()
                day = _parse_day(e.ref_id)
                days.add(day)
                if len(days) > 40:  # the rules look back at most 2 streaks
                    cutoff = day - _MONTH  # d < cutoff: (day - d).days > 30
                    for old in [d for d in days if d < cutoff]:
                        days.discard(old)
            elif t in _STAKES:
                self.stake_days[e.from_account] = utc_day(e.time)


class SimRules(EconomyRules):
    """`EconomyRules` whose journal reads come from `IndexedMemoryStore`'s index."""

    def _login_days(self, user: str, entry_type: str) -> set[date]:
        store: IndexedMemoryStore = self.ledger.store  # type: ignore[assignment]
        # entry_type may be an EntryType: it hashes and compares as its string value
        return store.day_credits.get((f"user:{user}", entry_type), set())

    def staked_on(self, user: str, day: date) -> bool:
        store: IndexedMemoryStore = self.ledger.store  # type: ignore[assignment]
        return store.stake_days.get(f"user:{user}") == day

    def account_opened(self, user: str) -> datetime | None:
        store: IndexedMemoryStore = self.ledger.store  # type: ignore[assignment]
        return store.first_reward.get(f"user:{user}")

    def activity(self, user: str, at_least: int) -> int:
        store: IndexedMemoryStore = self.ledger.store  # type: ignore[assignment]
        return min(at_least, store.activity.get(f"user:{user}", 0))


class IndexedPaymentStore(MemoryPaymentStore):
    """`MemoryPaymentStore` with per-user, per-payment-intent and pending-event indexes."""

    def __init__(self) -> None:
        super().__init__()
        self._user_rows: dict[str, list[str]] = defaultdict(list)
        self._pi_row: dict[str, str] = {}
        self._key_row: dict[str, str] = {}
        self._pi_events: dict[str, list[str]] = defaultdict(list)

    def add(self, rec: PaymentRecord) -> PaymentRecord:
        existing = self._rows.get(rec.session_id) or (
            rec.idempotency_key and self.by_key(rec.idempotency_key))
        if existing:
            return existing
        self._rows[rec.session_id] = rec
        self._user_rows[rec.user_id].append(rec.session_id)
        if rec.payment_intent:
            self._pi_row[rec.payment_intent] = rec.session_id
        if rec.idempotency_key:
            self._key_row[rec.idempotency_key] = rec.session_id
        return rec

    def by_key(self, key: str) -> PaymentRecord | None:
        sid = self._key_row.get(key)
        return None if sid is None else self._rows[sid]

    def by_payment_intent(self, payment_intent: str) -> PaymentRecord | None:
        sid = self._pi_row.get(payment_intent)
        return None if sid is None else self._rows[sid]

    def for_user(self, user_id: str, since: datetime | None = None) -> list[PaymentRecord]:
        rows = [self._rows[s] for s in self._user_rows.get(user_id, ())]
        return [r for r in rows if since is None or r.created_at >= since]

    def update(self, session_id: str, *, only_if_status: Iterable[str] | None = None, **fields: Any) -> bool:
        changed = super().update(session_id, only_if_status=only_if_status, **fields)
        pi = fields.get("payment_intent")
        if changed and pi:
            self._pi_row[pi] = session_id
        return changed

    def record_event(self, ev: StoredEvent) -> bool:
        added = super().record_event(ev)
        if added and ev.payment_intent:
            self._pi_events[ev.payment_intent].append(ev.id)
        return added

    def pending_events(self, payment_intent: str) -> list[StoredEvent]:
        evs = [self._events[i] for i in self._pi_events.get(payment_intent, ())]
        return sorted((e for e in evs if e.status == "pending"), key=lambda e: (e.received_at, e.id))


class IndexedPoolStore(MemoryPoolStore):
    """`MemoryPoolStore` with stakes indexed by pool."""

    def __init__(self) -> None:
        super().__init__()
        self._by_pool: dict[str, dict[int, Stake]] = defaultdict(dict)

    def reserve_stake(self, pool_id: str, user_id: str, outcome: str, amount: int, key: str | None) -> Stake:
        mine = [s for s in self._by_pool[pool_id].values() if s.user_id == user_id]
        prior = next((s for s in mine if key is not None and s.key == key), None)
        if prior is not None:
            return prior
        _check_reserve(self._pools.get(pool_id), pool_id, user_id, amount, sum(s.amount for s in mine))
        stake = Stake(next(self._ids), pool_id, user_id, outcome, amount, None, key)
        self._stakes[stake.id] = stake
        self._by_pool[pool_id][stake.id] = stake
        return stake

    def attach_hold(self, pool_id: str, stake_id: int, hold_id: str) -> bool:
        ok = super().attach_hold(pool_id, stake_id, hold_id)
        if ok:
            self._by_pool[pool_id][stake_id] = self._stakes[stake_id]
        return ok

    def drop_stake(self, stake_id: int) -> None:
        stake = self._stakes.get(stake_id)
        super().drop_stake(stake_id)
        if stake is not None:
            self._by_pool[stake.pool_id].pop(stake_id, None)

    def stakes(self, pool_id: str) -> list[Stake]:
        return sorted(self._by_pool.get(pool_id, {}).values(), key=lambda s: s.id)
