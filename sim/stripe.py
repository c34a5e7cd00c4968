"""Simulated Stripe: the Checkout client the real `Payments` calls, and a webhook
sender that delivers events to the REAL handler late, twice, out of order, unpaid,
refunded and disputed.

`SimStripe.v1.checkout.sessions.create(params, options)` is the slice of
``stripe.StripeClient`` that `Payments.create_checkout` uses; sessions get counter ids
(``cs_sim_1``...), so runs are deterministic. After a checkout, `SimStripe.pay` starts
a SimPy process that plays the customer and the bank: the events it produces are shaped
like Stripe's (see service/fake_stripe.py) and delivered, each after its own random
delay, either signed to `Payments.handle_webhook` (``Stripe-Signature`` made exactly as
Stripe makes it; its timestamp is wall-clock time because stripe-python checks the
tolerance against the real clock -- the signature is never stored, so outputs stay
deterministic) or as the equivalent verified event to `Payments.handle_event`.

Ground truth is kept in ``paid``: the sessions the simulated bank actually charged,
so tests can prove each was credited exactly once and nothing else was.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Generator
from types import SimpleNamespace
from typing import Any

import simpy

from ledger.economy.payments import Payments
from ledger.errors import LedgerError

from .scenario import Stripe as StripeParams

__all__ = ["SimStripe", "sign"]

API_VERSION = "2025-09-30.clover"


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=<ts>,v1=<hmac-sha256>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _Sessions:
    def __init__(self, owner: SimStripe) -> None:
        self.owner = owner

    def create(self, params: dict[str, Any], options: dict[str, Any] | None = None) -> SimpleNamespace:
        return self.owner._create(params)


class SimStripe:
    """One simulated Stripe account over one SimPy environment."""

    def __init__(self, env: simpy.Environment, rng: random.Random, params: StripeParams,
                 now_unix: Callable[[], int], webhook_secret: str = "whsec_sim") -> None:
        self.env = env
        self.rng = rng
        self.params = params
        self.now_unix = now_unix
        self.webhook_secret = webhook_secret
        self.payments: Payments | None = None  # set once the economy is built
        self.sessions: dict[str, dict[str, Any]] = {}
        self.paid: set[str] = set()  # sessions the bank charged (and never failed)
        self.refunded: dict[str, int] = {}  # session -> cents refunded
        self.outcomes: Counter[str] = Counter()
        self._ids = 0
        self.v1 = SimpleNamespace(checkout=SimpleNamespace(sessions=_Sessions(self)))

    def _next(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_sim_{self._ids}"

    def _create(self, params: dict[str, Any]) -> SimpleNamespace:
        sid = self._next("cs")
        total = sum(int(li["price_data"]["unit_amount"]) * int(li.get("quantity", 1)) for li in params["line_items"])
        now = self.now_unix()
        self.sessions[sid] = {
            "id": sid, "object": "checkout.session", "mode": params["mode"], "status": "open",
            "payment_status": "unpaid", "amount_total": total, "currency": params["line_items"][0]["price_data"]["currency"],
            "metadata": dict(params.get("metadata") or {}), "client_reference_id": params.get("client_reference_id"),
            "payment_intent": None, "url": f"https://checkout.sim/{sid}", "created": now,
            "expires_at": now + 3600, "livemode": False,
        }
        return SimpleNamespace(id=sid, url=f"https://checkout.sim/{sid}", expires_at=now + 3600)

    # -- the customer and the bank --------------------------------------------------------
    def pay(self, session_id: str) -> None:
        """The customer goes to the checkout page; what happens next is up to chance."""
        self.env.process(self._play(session_id))

    def _delay(self) -> float:
        return self.rng.expovariate(1.0 / self.params.mean_delay_seconds) if self.params.mean_delay_seconds else 0.0

    def _play(self, sid: str) -> Generator[Any, Any, None]:
        p, r, s = self.params, self.rng, self.sessions[sid]
        if r.random() < p.abandon_share:
            yield self.env.timeout(3600)
            s["status"] = "expired"
            self._send("checkout.session.expired", s, self._delay())
            return
        yield self.env.timeout(r.uniform(30, 300))  # filling in the card form
        s["status"] = "complete"
        s["payment_intent"] = self._next("pi")
        if r.random() < p.async_share:
            s["payment_status"] = "unpaid"
            first = self._send("checkout.session.completed", s, self._delay())
            settle = first + r.expovariate(1 / 3600.0)
            if r.random() < p.reorder_share:
                settle = max(0.0, first - r.uniform(1, 60))  # the follow-up overtakes it
            if r.random() < p.async_fail_share:
                self._send("checkout.session.async_payment_failed", s, settle)
                return
            s = dict(s, payment_status="paid")
            self.sessions[sid] = s
            self._send("checkout.session.async_payment_succeeded", s, settle)
        else:
            s["payment_status"] = "paid"
            first = self._send("checkout.session.completed", s, self._delay())
        self.paid.add(sid)
        charge = {"id": self._next("ch"), "object": "charge", "amount": s["amount_total"], "amount_refunded": 0,
                  "currency": s["currency"], "paid": True, "refunded": False,
                  "payment_intent": s["payment_intent"], "metadata": dict(s["metadata"])}
        if r.random() < p.refund_share:
            part = s["amount_total"] if r.random() < 0.7 else s["amount_total"] // 2
            at = r.uniform(3600, 7 * 86400)
            if r.random() < p.reorder_share:
                at = max(0.0, first - r.uniform(1, 60))  # the refund news arrives first
            self.refunded[sid] = part
            self._send("charge.refunded", dict(charge, amount_refunded=part, refunded=part == s["amount_total"]), at)
        if r.random() < p.dispute_share:
            dispute = {"id": self._next("dp"), "object": "dispute", "amount": s["amount_total"],
                       "charge": charge["id"], "payment_intent": s["payment_intent"], "reason": "fraudulent"}
            self._send("charge.dispute.created", dispute, r.uniform(86400, 14 * 86400))

    # -- delivery -------------------------------------------------------------------------
    def _send(self, etype: str, obj: dict[str, Any], delay: float) -> float:
        """Schedule ``etype`` about a snapshot of ``obj`` after ``delay`` seconds (and,
        sometimes, once more later). Returns the delay used."""
        event = {"id": self._next("evt"), "object": "event", "api_version": API_VERSION,
                 "created": self.now_unix(), "type": etype, "livemode": False,
                 "data": {"object": json.loads(json.dumps(obj))}}
        self.env.process(self._deliver_later(event, delay))
        if self.rng.random() < self.params.duplicate_share:
            self.env.process(self._deliver_later(event, delay + self.rng.expovariate(1 / 600.0)))
        return delay

    def _deliver_later(self, event: dict[str, Any], delay: float) -> Generator[Any, Any, None]:
        yield self.env.timeout(delay)
        self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> str:
        """Hand one event to the real handler; returns its outcome."""
        assert self.payments is not None, "SimStripe.payments is not wired"
        try:
            if self.params.signed:
                body = json.dumps(event, separators=(",", ":"))
                result = self.payments.handle_webhook(body, sign(body, self.webhook_secret, int(time.time())))
            else:
                result = self.payments.handle_event(event)
            outcome = result.outcome
        except LedgerError as err:
            outcome = f"error:{type(err).__name__}"
        self.outcomes[outcome] += 1
        return outcome
