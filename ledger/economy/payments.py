"""Coin purchases through Stripe Checkout, and the webhook handler that credits them.

Checkout: quote the package (promo, PRO bonus), enforce the daily USD limit and the
one-open-checkout-per-package window, then create a Checkout Session with
stripe-python (mode payment, metadata ``type=coin_purchase``, package, user, coins,
bonus) under an idempotency key, and remember it in the `PaymentStore`.

Webhooks are verified with ``stripe.Webhook.construct_event`` (tolerance 300 s) and
may arrive late, twice, concurrently or out of order, so nothing here relies on
order or on a check-then-write:

- a paid session is credited by ONE ledger transaction keyed ``stripe:checkout:<session>``
  whose payload depends only on the session: revenue in USD (external:stripe ->
  platform:revenue, REVENUE), base coins (COIN_PURCHASE) and bonus coins
  (COIN_PURCHASE_BONUS) minted to the user. Whichever of ``completed`` (paid) or
  ``async_payment_succeeded`` comes first applies it; every other delivery replays it;
- a refund is keyed by session and cumulative refunded amount; the refund policy
  claws coins back (what the user still has; the shortfall is recorded and the user
  flagged); a dispute freezes the user's account;
- a refund or dispute that arrives before its session is paid is parked and
  applied right after the credit.
Event ids are remembered to answer redeliveries cheaply.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import stripe

from ledger.errors import IdempotencyConflict, InsufficientFunds, InvalidRequest
from ledger.ledger import Ledger
from ledger.model import MINT, EntryType, Posting, Transaction, TransferRequest, user_account

from .config import EconomyConfig
from .errors import (
    CheckoutAlreadyOpen,
    PaymentProviderError,
    PurchaseLimitExceeded,
    WebhookRejected,
)
from .packages import CoinPackage, PackageCatalog, PurchaseQuote, quote_purchase
from .payment_store import (
    OPEN,
    PaymentRecord,
    PaymentStatus,
    PaymentStore,
    StoredEvent,
    UserFlag,
)
from .rules import PLATFORM, utc_day

__all__ = ["STRIPE", "Checkout", "Payments", "WebhookResult", "make_stripe_client"]

STRIPE = "external:stripe"
WEBHOOK_TOLERANCE = 300
_PAID_ONCE = frozenset({PaymentStatus.PAID, PaymentStatus.REFUNDED, PaymentStatus.PROCESSING})


def make_stripe_client(api_key: str, api_base: str | None = None, **kw: Any) -> stripe.StripeClient:
    """A stripe-python client; ``api_base`` points it elsewhere (the local fake in tests)."""
    addresses: dict[str, str | None] = {"api": api_base} if api_base else {}
    return stripe.StripeClient(api_key, base_addresses=addresses, **kw)  # type: ignore[arg-type]


class Checkout(NamedTuple):
    """A created (or re-found) checkout: the stored payment and the coins it will credit."""

    payment: PaymentRecord
    package: CoinPackage

    def to_dict(self) -> dict[str, Any]:
        """The seeds' response shape for POST /api/coins/purchase/checkout."""
        p = self.payment
        return {
            "checkoutUrl": p.checkout_url, "sessionId": p.session_id,
            "package": {"id": self.package.id, "name": self.package.name,
                        "priceUSD": p.price_cents / 100, "priceCents": p.price_cents,
                        "baseCoins": p.base_coins, "bonusCoins": p.bonus_coins,
                        "totalCoins": p.base_coins + p.bonus_coins},
            "promoCode": p.promo_code,
        }


class WebhookResult(NamedTuple):
    """What one delivery did. ``outcome``: fulfilled, replayed (credit already done),
    duplicate (event id seen), processing, failed, expired, refunded, frozen, pending
    (parked until the session is paid), ignored (not a coin purchase / not handled)."""

    event_id: str
    type: str
    outcome: str
    session_id: str | None = None
    tx_id: str | None = None


class Payments:
    def __init__(
        self,
        ledger: Ledger,
        config: EconomyConfig,
        store: PaymentStore,
        catalog: PackageCatalog,
        stripe_client: stripe.StripeClient | None,
        webhook_secret: str,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.store = store
        self.catalog = catalog
        self.stripe = stripe_client
        self.webhook_secret = webhook_secret
        ledger.open_account(STRIPE, allow_negative=True)

    # -- checkout ----------------------------------------------------------------
    def create_checkout(
        self,
        user: str,
        package_id: str,
        *,
        promo_code: str | None = None,
        is_pro: bool = False,
        key: str | None = None,
        now: datetime | None = None,
    ) -> Checkout:
        """Open a Checkout Session for ``package_id``. With ``key`` (the client's
        Idempotency-Key) a retry returns the same session."""
        now = now or self.ledger.clock()
        scoped = f"checkout:{user}:{key}" if key else None
        if scoped:
            prior = self.store.by_key(scoped)
            if prior is not None and key is not None:
                if prior.package_id != package_id or (prior.promo_code or None) != _norm(promo_code):
                    raise IdempotencyConflict(key)
                return Checkout(prior, self.catalog.get(prior.package_id))
        pkg = self.catalog.get(package_id, active_only=True)
        history = self.store.for_user(user)
        self._check_open_window(user, pkg, history, now)
        self._check_daily_limit(user, pkg, history, now)
        code = _norm(promo_code)
        quote = quote_purchase(
            self.config, pkg, promo_code=code, is_pro=is_pro,
            first_purchase=not any(r.status in _PAID_ONCE for r in history),
            promo_used_before=any(r.promo_code == code and r.status in _PAID_ONCE for r in history),
        )
        session = self._create_session(user, pkg, quote, scoped or f"checkout:{user}:{uuid.uuid4().hex}")
        expires = session.get("expires_at")
        rec = PaymentRecord(
            session_id=session["id"], user_id=user, package_id=pkg.id, price_cents=pkg.price_cents,
            currency=self.config.purchases.currency, base_coins=quote.base_coins,
            bonus_coins=quote.bonus_coins, promo_code=quote.promo_code, status=PaymentStatus.OPEN,
            created_at=now, updated_at=now,
            expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
            checkout_url=session.get("url"), idempotency_key=scoped,
        )
        return Checkout(self.store.add(rec), pkg)

    def _check_open_window(self, user: str, pkg: CoinPackage, history: list[PaymentRecord],
                           now: datetime) -> None:
        window = timedelta(seconds=self.config.purchases.open_checkout_window_seconds)
        for r in history:
            if (r.package_id == pkg.id and r.status == PaymentStatus.OPEN and r.created_at > now - window
                    and (r.expires_at is None or r.expires_at > now)):
                raise CheckoutAlreadyOpen(
                    f"{user} already has an open checkout for {pkg.id!r}", session_id=r.session_id,
                    checkout_url=r.checkout_url or "")

    def _check_daily_limit(self, user: str, pkg: CoinPackage, history: list[PaymentRecord],
                           now: datetime) -> None:
        day = utc_day(now)
        limit = self.config.purchases.daily_limit_cents
        spent = sum(r.price_cents for r in history
                    if utc_day(r.created_at) == day and (r.status in OPEN or r.status in _PAID_ONCE))
        if spent + pkg.price_cents > limit:
            raise PurchaseLimitExceeded(
                f"{user} would spend {spent + pkg.price_cents} cents today; the limit is {limit}",
                spent_cents=spent, limit_cents=limit)

    def _create_session(self, user: str, pkg: CoinPackage, q: PurchaseQuote, idem_key: str) -> dict[str, Any]:
        meta = {"type": "coin_purchase", "package": pkg.id, "user": user,
                "price_cents": str(pkg.price_cents), "coins": str(q.base_coins),
                "bonus": str(q.bonus_coins), "promo": q.promo_code or ""}
        if self.stripe is None:
            raise PaymentProviderError("no Stripe client is configured")
        cfg = self.config.purchases
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": cfg.currency, "unit_amount": pkg.price_cents,
                "product_data": {"name": f"{pkg.name} coin package",
                                 "description": f"{q.total_coins} coins"}}}],
            "metadata": meta,
            "payment_intent_data": {"metadata": meta},
            "client_reference_id": user,
            "success_url": cfg.success_url,
            "cancel_url": cfg.cancel_url,
        }
        try:
            session = self.stripe.v1.checkout.sessions.create(params, {"idempotency_key": idem_key})  # type: ignore[arg-type]
        except stripe.StripeError as err:
            raise PaymentProviderError(f"Stripe refused the checkout: {err.user_message or err}") from None
        return {"id": session.id, "url": session.url, "expires_at": getattr(session, "expires_at", None)}

    # -- webhooks ----------------------------------------------------------------
    def handle_webhook(self, payload: bytes | str, signature: str | None) -> WebhookResult:
        """Verify and apply one delivery. Raises WebhookRejected (nothing changed) when
        the signature, its timestamp or the body does not verify."""
        # stripe-python checks the signature; the body is parsed once, here (construct_event
        # would parse it a second time into an object we do not use).
        try:
            stripe.WebhookSignature.verify_header(payload, signature, self.webhook_secret, WEBHOOK_TOLERANCE)
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError) as err:
            raise WebhookRejected(f"webhook rejected: {err}") from None
        if not isinstance(event, dict):
            raise WebhookRejected("webhook rejected: the body is not a JSON object")
        return self.handle_event(event)

    def handle_event(self, event: dict[str, Any]) -> WebhookResult:
        """Apply an already verified event."""
        eid, etype = str(event.get("id", "")), str(event.get("type", ""))
        obj = (event.get("data") or {}).get("object") or {}
        if not eid or not isinstance(obj, dict):
            raise InvalidRequest("event without id or data.object")
        if self.store.get_event(eid) is not None:
            return WebhookResult(eid, etype, "duplicate", obj.get("id"))
        handler = {
            "checkout.session.completed": self._on_completed,
            "checkout.session.async_payment_succeeded": self._on_async_succeeded,
            "checkout.session.async_payment_failed": self._on_async_failed,
            "checkout.session.expired": self._on_expired,
            "charge.refunded": self._on_charge_event,
            "charge.dispute.created": self._on_charge_event,
        }.get(etype)
        result = handler(eid, etype, obj) if handler else WebhookResult(eid, etype, "ignored")
        if result.outcome != "pending":
            self.store.record_event(StoredEvent(eid, etype, "processed", obj.get("payment_intent"),
                                                self.ledger.clock(), None))
        return result

    # checkout.session.*
    def _on_completed(self, eid: str, etype: str, s: dict[str, Any]) -> WebhookResult:
        if (s.get("metadata") or {}).get("type") != "coin_purchase":
            return WebhookResult(eid, etype, "ignored", s.get("id"))
        if s.get("payment_status") == "paid":
            return self._fulfil(eid, etype, s)
        rec = self._record_for(s)
        self.store.update(rec.session_id, only_if_status=[PaymentStatus.OPEN], status=PaymentStatus.PROCESSING,
                          payment_intent=s.get("payment_intent"), updated_at=self.ledger.clock())
        return WebhookResult(eid, etype, "processing", rec.session_id)

    def _on_async_succeeded(self, eid: str, etype: str, s: dict[str, Any]) -> WebhookResult:
        if (s.get("metadata") or {}).get("type") != "coin_purchase":
            return WebhookResult(eid, etype, "ignored", s.get("id"))
        return self._fulfil(eid, etype, s)

    def _on_async_failed(self, eid: str, etype: str, s: dict[str, Any]) -> WebhookResult:
        return self._end_unpaid(eid, etype, s, PaymentStatus.FAILED, "async payment failed")

    def _on_expired(self, eid: str, etype: str, s: dict[str, Any]) -> WebhookResult:
        return self._end_unpaid(eid, etype, s, PaymentStatus.EXPIRED, "checkout expired")

    def _end_unpaid(self, eid: str, etype: str, s: dict[str, Any], status: str, reason: str) -> WebhookResult:
        if (s.get("metadata") or {}).get("type") != "coin_purchase":
            return WebhookResult(eid, etype, "ignored", s.get("id"))
        rec = self._record_for(s)
        # Only an unpaid session can fail or expire: a late 'failed' never undoes a credit.
        self.store.update(rec.session_id, only_if_status=OPEN, status=status, failure_reason=reason,
                          updated_at=self.ledger.clock())
        return WebhookResult(eid, etype, status, rec.session_id)

    def _record_for(self, s: dict[str, Any]) -> PaymentRecord:
        """The stored payment of a session, or one rebuilt from its signed metadata (a
        session created by another instance, or by the simulator)."""
        rec = self.store.get(s["id"])
        if rec is not None:
            return rec
        m = s.get("metadata") or {}
        try:
            now = self.ledger.clock()
            return self.store.add(PaymentRecord(
                session_id=s["id"], user_id=m["user"], package_id=m["package"],
                price_cents=int(s.get("amount_total") or m["price_cents"]),
                currency=str(s.get("currency") or self.config.purchases.currency),
                base_coins=int(m["coins"]), bonus_coins=int(m.get("bonus") or 0),
                promo_code=m.get("promo") or None, status=PaymentStatus.OPEN, created_at=now,
                updated_at=now, checkout_url=s.get("url")))
        except (KeyError, ValueError) as err:
            raise InvalidRequest(f"coin purchase session {s.get('id')!r} lacks metadata: {err}") from None

    def _fulfil(self, eid: str, etype: str, s: dict[str, Any]) -> WebhookResult:
        rec = self._record_for(s)
        tx = self.ledger.post(self._credit_request(rec))
        now = self.ledger.clock()
        pi = s.get("payment_intent")
        self.store.update(rec.session_id, only_if_status=[*OPEN, PaymentStatus.FAILED, PaymentStatus.EXPIRED],
                          status=PaymentStatus.PAID, paid_at=now, updated_at=now, fulfil_tx=tx.id)
        if pi and rec.payment_intent != pi:
            self.store.update(rec.session_id, payment_intent=pi)
        if pi:
            for parked in self.store.pending_events(pi):
                self._apply_charge_event(parked.type, parked.payload or {})
                self.store.set_event_status(parked.id, "processed")
        return WebhookResult(eid, etype, "replayed" if tx.replayed else "fulfilled", rec.session_id, tx.id)

    def _credit_request(self, rec: PaymentRecord) -> TransferRequest:
        # Depends on the session only, so every event that fulfils it sends the same
        # payload under the same key: the ledger applies it once and replays it after.
        user = user_account(rec.user_id)
        legs = [Posting(STRIPE, PLATFORM, "USD", rec.price_cents, EntryType.REVENUE),
                Posting(MINT, user, "COIN", rec.base_coins, EntryType.COIN_PURCHASE)]
        if rec.bonus_coins:
            legs.append(Posting(MINT, user, "COIN", rec.bonus_coins, EntryType.COIN_PURCHASE_BONUS))
        meta = {"session_id": rec.session_id, "package": rec.package_id, "price_cents": rec.price_cents,
                "currency": rec.currency, "base_coins": rec.base_coins, "bonus_coins": rec.bonus_coins,
                "promo_code": rec.promo_code}
        return TransferRequest(tuple(legs), EntryType.COIN_PURCHASE, f"stripe:checkout:{rec.session_id}",
                               "stripe_session", rec.session_id, meta)

    # charge.* (refunds, disputes)
    def _on_charge_event(self, eid: str, etype: str, obj: dict[str, Any]) -> WebhookResult:
        pi = obj.get("payment_intent")
        rec = self.store.by_payment_intent(pi) if pi else None
        if rec is None or rec.status not in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
            if not pi:
                return WebhookResult(eid, etype, "ignored")
            # Not credited yet: park it; the credit replays it.
            self.store.record_event(StoredEvent(eid, etype, "pending", pi, self.ledger.clock(), obj))
            rec = self.store.by_payment_intent(pi)
            if rec is None or rec.status not in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
                return WebhookResult(eid, etype, "pending", rec.session_id if rec else None)
            # The credit landed meanwhile and may have missed the parked event: apply it now.
            self.store.set_event_status(eid, "processed")
        return self._apply_charge_event(etype, obj, eid)

    def _apply_charge_event(self, etype: str, obj: dict[str, Any], eid: str = "") -> WebhookResult:
        rec = self.store.by_payment_intent(obj["payment_intent"])
        assert rec is not None
        if etype == "charge.refunded":
            tx = self._refund(rec, obj)
            return WebhookResult(eid, etype, "refunded", rec.session_id, tx.id if tx else None)
        self.ledger.freeze(user_account(rec.user_id))
        self.store.update(rec.session_id, disputed=True, updated_at=self.ledger.clock())
        self.store.flag_user(UserFlag(rec.user_id, "dispute", rec.session_id,
                                      {"dispute": obj.get("id"), "reason": obj.get("reason")},
                                      self.ledger.clock()))
        return WebhookResult(eid, etype, "frozen", rec.session_id)

    def _refund(self, stale: PaymentRecord, charge: dict[str, Any]) -> Transaction | None:
        # One refund at a time per payment: each books the step from what the store
        # says is already refunded to the charge's cumulative amount_refunded.
        with self.store.session_lock(stale.session_id):
            rec = self.store.get(stale.session_id) or stale
            refunded = int(charge.get("amount_refunded") or 0)
            amount = int(charge.get("amount") or rec.price_cents)
            if refunded <= rec.refunded_cents:
                return None  # this refund level (or a later one) is already booked
            coins = rec.base_coins + rec.bonus_coins
            target = coins if refunded >= amount else coins * refunded // amount
            owed = target - rec.coins_clawed_back - rec.shortfall_coins
            if self.config.refunds.policy != "claw_back":
                owed = 0
            user = user_account(rec.user_id)
            key = f"stripe:refund:{rec.session_id}:{refunded}"
            tx, take = self._book_refund(rec, user, key, refunded, owed, charge)
            shortfall = owed - take
            self.store.update(
                rec.session_id, refunded_cents=refunded, coins_clawed_back=rec.coins_clawed_back + take,
                shortfall_coins=rec.shortfall_coins + shortfall, updated_at=self.ledger.clock(),
                status=PaymentStatus.REFUNDED if refunded >= amount else rec.status)
            if shortfall and self.config.refunds.flag_on_shortfall:
                self.store.flag_user(UserFlag(rec.user_id, "refund_shortfall", f"{rec.session_id}:{refunded}",
                                              {"shortfall_coins": shortfall, "session_id": rec.session_id},
                                              self.ledger.clock()))
            return tx

    def _book_refund(self, rec: PaymentRecord, user: str, key: str, refunded: int, owed: int,
                     charge: dict[str, Any]) -> tuple[Transaction | None, int]:
        """Post the refund step; returns (transaction, coins taken)."""
        for _ in range(5):
            take = min(owed, max(self.ledger.balance(user, "COIN"), 0))
            legs = [Posting(PLATFORM, STRIPE, "USD", refunded - rec.refunded_cents, EntryType.REVENUE_REFUND)]
            if take > 0:
                legs.append(Posting(user, MINT, "COIN", take, EntryType.COIN_PURCHASE_REFUND))
            meta = {"session_id": rec.session_id, "charge": charge.get("id"), "refunded_cents": refunded,
                    "coins_owed": owed, "coins_taken": take, "shortfall": owed - take}
            # A clawback: it takes the coins back even from a frozen (disputed) user, in
            # this one atomic request, without lifting the freeze.
            req = TransferRequest(tuple(legs), EntryType.COIN_PURCHASE_REFUND, key, "stripe_session",
                                  rec.session_id, meta, clawback=True)
            try:
                return self.ledger.post(req), take
            except InsufficientFunds:
                continue  # the user spent meanwhile: take what is there now
            except IdempotencyConflict:
                # Booked before, but the store missed it (a crash in between): read back
                # what that transaction took instead of booking it again.
                return None, self._taken_before(user, rec.session_id, refunded)
        raise InvalidRequest(f"refund of {rec.session_id} kept racing with spending; retry")

    def _taken_before(self, user: str, session_id: str, refunded: int) -> int:
        for item in self.ledger.history(user, entry_type=EntryType.COIN_PURCHASE_REFUND, limit=200):
            meta = item.metadata or {}
            if item.ref_id == session_id and meta.get("refunded_cents") == refunded:
                return -item.amount
        return 0


def _norm(code: str | None) -> str | None:
    return code.strip().upper() if code and code.strip() else None
