"""Persistence of coin purchases: one `PaymentRecord` per Stripe Checkout Session, the
webhook events seen, and users flagged for review. Memory and SQL implementations of
one small interface; the warehouse exports its ``payments`` table from `all()`.

Money is never decided here: coins and revenue move in the ledger, keyed so they
happen once. This store remembers what Stripe said, for dedup, lookups and reports.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

__all__ = [
    "OPEN",
    "MemoryPaymentStore",
    "PaymentRecord",
    "PaymentStatus",
    "PaymentStore",
    "SqlPaymentStore",
    "StoredEvent",
    "UserFlag",
]


class PaymentStatus:
    """``open``: checkout created, not paid; ``processing``: completed, async payment
    pending; ``paid``: coins credited; ``failed`` / ``expired``: never paid;
    ``refunded``: fully refunded (partial refunds stay ``paid`` with refunded_cents)."""

    OPEN = "open"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"


OPEN = frozenset({PaymentStatus.OPEN, PaymentStatus.PROCESSING})


class PaymentRecord(NamedTuple):
    """A coin purchase. ``base_coins``/``bonus_coins`` are fixed at checkout (the quote);
    ``fulfil_tx`` is the ledger transaction that credited them; ``coins_clawed_back`` and
    ``shortfall_coins`` say what refunds took back and what they could not."""

    session_id: str
    user_id: str
    package_id: str
    price_cents: int
    currency: str
    base_coins: int
    bonus_coins: int
    promo_code: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    checkout_url: str | None = None
    idempotency_key: str | None = None
    payment_intent: str | None = None
    fulfil_tx: str | None = None
    refunded_cents: int = 0
    coins_clawed_back: int = 0
    shortfall_coins: int = 0
    disputed: bool = False
    failure_reason: str | None = None


class StoredEvent(NamedTuple):
    """A webhook event: ``status`` is ``processed`` or ``pending`` (a charge event that
    arrived before its session was paid, replayed when it is)."""

    id: str
    type: str
    status: str
    payment_intent: str | None
    received_at: datetime
    payload: dict[str, Any] | None


class UserFlag(NamedTuple):
    user_id: str
    reason: str
    ref: str | None
    detail: dict[str, Any] | None
    created_at: datetime


class PaymentStore(Protocol):
    def add(self, rec: PaymentRecord) -> PaymentRecord:
        """Insert; if the session (or its idempotency key) exists, return the stored row."""

    def get(self, session_id: str) -> PaymentRecord | None: ...

    def by_key(self, key: str) -> PaymentRecord | None: ...

    def by_payment_intent(self, payment_intent: str) -> PaymentRecord | None: ...

    def for_user(self, user_id: str, since: datetime | None = None) -> list[PaymentRecord]: ...

    def all(self) -> list[PaymentRecord]: ...

    def update(self, session_id: str, *, only_if_status: Iterable[str] | None = None,
               **fields: Any) -> bool:
        """Change fields; with ``only_if_status`` only when the status is one of those.
        Returns whether a row changed (a compare-and-set for status moves)."""

    def record_event(self, ev: StoredEvent) -> bool:
        """Insert; False when the event id was already stored."""

    def get_event(self, event_id: str) -> StoredEvent | None: ...

    def set_event_status(self, event_id: str, status: str) -> None: ...

    def pending_events(self, payment_intent: str) -> list[StoredEvent]: ...

    def flag_user(self, flag: UserFlag) -> bool:
        """Insert; False when the same (user, reason, ref) is already flagged."""

    def flags(self, user_id: str | None = None) -> list[UserFlag]: ...

    def session_lock(self, session_id: str) -> AbstractContextManager[None]:
        """Serialize work on one payment across threads (and, on PostgreSQL, processes)."""


class _LocalLocks:
    """One lock per name, for one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            yield


class MemoryPaymentStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, PaymentRecord] = {}
        self._events: dict[str, StoredEvent] = {}
        self._flags: dict[tuple[str, str, str | None], UserFlag] = {}
        self._session_locks = _LocalLocks()

    def session_lock(self, session_id: str) -> AbstractContextManager[None]:
        return self._session_locks.hold(session_id)

    def add(self, rec: PaymentRecord) -> PaymentRecord:
        with self._lock:
            existing = self._rows.get(rec.session_id) or (
                rec.idempotency_key and self._by_key(rec.idempotency_key))
            if existing:
                return existing
            self._rows[rec.session_id] = rec
            return rec

    def _by_key(self, key: str) -> PaymentRecord | None:
        return next((r for r in self._rows.values() if r.idempotency_key == key), None)

    def get(self, session_id: str) -> PaymentRecord | None:
        return self._rows.get(session_id)

    def by_key(self, key: str) -> PaymentRecord | None:
        with self._lock:
            return self._by_key(key)

    def by_payment_intent(self, payment_intent: str) -> PaymentRecord | None:
        return next((r for r in list(self._rows.values()) if r.payment_intent == payment_intent), None)

    def for_user(self, user_id: str, since: datetime | None = None) -> list[PaymentRecord]:
        return [r for r in list(self._rows.values())
                if r.user_id == user_id and (since is None or r.created_at >= since)]

    def all(self) -> list[PaymentRecord]:
        return sorted(self._rows.values(), key=lambda r: (r.created_at, r.session_id))

    def update(self, session_id: str, *, only_if_status: Iterable[str] | None = None,
               **fields: Any) -> bool:
        with self._lock:
            rec = self._rows.get(session_id)
            if rec is None or (only_if_status is not None and rec.status not in set(only_if_status)):
                return False
            self._rows[session_id] = rec._replace(**fields)
            return True

    def record_event(self, ev: StoredEvent) -> bool:
        with self._lock:
            if ev.id in self._events:
                return False
            self._events[ev.id] = ev
            return True

    def get_event(self, event_id: str) -> StoredEvent | None:
        return self._events.get(event_id)

    def set_event_status(self, event_id: str, status: str) -> None:
        with self._lock:
            self._events[event_id] = self._events[event_id]._replace(status=status)

    def pending_events(self, payment_intent: str) -> list[StoredEvent]:
        return sorted((e for e in list(self._events.values())
                       if e.payment_intent == payment_intent and e.status == "pending"),
                      key=lambda e: (e.received_at, e.id))

    def flag_user(self, flag: UserFlag) -> bool:
        with self._lock:
            k = (flag.user_id, flag.reason, flag.ref)
            if k in self._flags:
                return False
            self._flags[k] = flag
            return True

    def flags(self, user_id: str | None = None) -> list[UserFlag]:
        return [f for f in self._flags.values() if user_id is None or f.user_id == user_id]


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    # SQLite hands back naive datetimes; everything stored is UTC.
    for k, v in row.items():
        if isinstance(v, datetime):
            row[k] = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    return row


class SqlPaymentStore:
    """Rows in ``payments``, ``stripe_events`` and ``user_flags`` (migration 0002)."""

    def __init__(self, engine: Engine) -> None:
        from . import schema as s

        self.engine = engine
        self.p, self.e, self.f = s.payments, s.stripe_events, s.user_flags
        self._local = _LocalLocks()

    @contextmanager
    def session_lock(self, session_id: str) -> Iterator[None]:
        # SQLite serves one host: a process lock is enough (and holding a database write
        # lock here would block the ledger's own write). PostgreSQL: an advisory lock.
        with self._local.hold(session_id):
            if self.engine.dialect.name != "postgresql":
                yield
                return
            digest = hashlib.blake2b(f"payment:{session_id}".encode(), digest_size=8).digest()
            k = int.from_bytes(digest, "big", signed=True)
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": k})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": k})
                    conn.commit()

    def _rec(self, r: Any) -> PaymentRecord:
        d = _utc(r._asdict())
        d["disputed"] = bool(d["disputed"])
        return PaymentRecord(**d)

    def _one(self, where: Any) -> PaymentRecord | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.p).where(where)).first()
        return None if r is None else self._rec(r)

    def add(self, rec: PaymentRecord) -> PaymentRecord:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.p).values(**rec._asdict()))
            return rec
        except IntegrityError:
            existing = self.get(rec.session_id) or (rec.idempotency_key and self.by_key(rec.idempotency_key))
            if not existing:
                raise
            return existing

    def get(self, session_id: str) -> PaymentRecord | None:
        return self._one(self.p.c.session_id == session_id)

    def by_key(self, key: str) -> PaymentRecord | None:
        return self._one(self.p.c.idempotency_key == key)

    def by_payment_intent(self, payment_intent: str) -> PaymentRecord | None:
        return self._one(self.p.c.payment_intent == payment_intent)

    def for_user(self, user_id: str, since: datetime | None = None) -> list[PaymentRecord]:
        q = select(self.p).where(self.p.c.user_id == user_id)
        if since is not None:
            q = q.where(self.p.c.created_at >= since)
        with self.engine.connect() as conn:
            return [self._rec(r) for r in conn.execute(q)]

    def all(self) -> list[PaymentRecord]:
        with self.engine.connect() as conn:
            q = select(self.p).order_by(self.p.c.created_at, self.p.c.session_id)
            return [self._rec(r) for r in conn.execute(q)]

    def update(self, session_id: str, *, only_if_status: Iterable[str] | None = None,
               **fields: Any) -> bool:
        q = update(self.p).where(self.p.c.session_id == session_id).values(**fields)
        if only_if_status is not None:
            q = q.where(self.p.c.status.in_(list(only_if_status)))
        with self.engine.begin() as conn:
            return conn.execute(q).rowcount > 0

    def record_event(self, ev: StoredEvent) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.e).values(**ev._asdict()))
            return True
        except IntegrityError:
            return False

    def get_event(self, event_id: str) -> StoredEvent | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.e).where(self.e.c.id == event_id)).first()
        return None if r is None else StoredEvent(**_utc(r._asdict()))

    def set_event_status(self, event_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.e).where(self.e.c.id == event_id).values(status=status))

    def pending_events(self, payment_intent: str) -> list[StoredEvent]:
        q = (select(self.e).where(self.e.c.payment_intent == payment_intent, self.e.c.status == "pending")
             .order_by(self.e.c.received_at, self.e.c.id))
        with self.engine.connect() as conn:
            return [StoredEvent(**_utc(r._asdict())) for r in conn.execute(q)]

    def flag_user(self, flag: UserFlag) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.f).values(**flag._asdict()))
            return True
        except IntegrityError:
            return False

    def flags(self, user_id: str | None = None) -> list[UserFlag]:
        q = select(self.f.c.user_id, self.f.c.reason, self.f.c.ref, self.f.c.detail, self.f.c.created_at)
        if user_id is not None:
            q = q.where(self.f.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [UserFlag(**_utc(r._asdict())) for r in conn.execute(q.order_by(self.f.c.id))]
