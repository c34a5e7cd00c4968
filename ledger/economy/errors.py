"""Errors of the economy layer (rules, packages, payments, pools). They extend
LedgerError, so the service maps them to problem+json the same way; raising any of
them means nothing was changed."""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = [
    "CheckoutAlreadyOpen",
    "NotEligible",
    "NotFound",
    "PaymentProviderError",
    "PoolStateError",
    "PromoRejected",
    "PurchaseLimitExceeded",
    "StakeCapExceeded",
    "WebhookRejected",
]


class NotEligible(LedgerError):
    """A rule's condition is not met (e.g. Phase 2: no stake placed today)."""

    code = "not_eligible"


class NotFound(LedgerError):
    code = "not_found"


class PromoRejected(LedgerError):
    code = "promo_rejected"


class PurchaseLimitExceeded(LedgerError):
    code = "purchase_limit_exceeded"


class CheckoutAlreadyOpen(LedgerError):
    """The user already has an open checkout for this package (details carry its id and URL)."""

    code = "checkout_already_open"


class WebhookRejected(LedgerError):
    """The webhook's signature, timestamp or body did not verify."""

    code = "invalid_signature"


class PoolStateError(LedgerError):
    """The pool (or challenge) is not in a state that allows this action."""

    code = "invalid_state"


class StakeCapExceeded(LedgerError):
    code = "stake_cap_exceeded"


class PaymentProviderError(LedgerError):
    """Stripe could not be reached or refused the request."""

    code = "payment_provider_error"
