"""Checkout: the real stripe client over HTTP to the local fake Stripe server."""

from __future__ import annotations

import pytest

from ledger.economy.errors import (
    CheckoutAlreadyOpen,
    PaymentProviderError,
    PromoRejected,
    PurchaseLimitExceeded,
)
from ledger.economy.payments import make_stripe_client
from ledger.errors import IdempotencyConflict


def _pay(e, fake, session_id):
    body, header = fake.signed(fake.complete(session_id))
    return e.payments.handle_webhook(body, header)


def test_checkout_creates_a_payment_mode_session_with_coin_metadata(make_economy, fake_stripe):
    e = make_economy()
    checkout = e.payments.create_checkout("alice", "large", key="k1")
    assert ("POST", "/v1/checkout/sessions") in fake_stripe.requests
    session = fake_stripe.sessions[checkout.payment.session_id]
    assert session["mode"] == "payment" and session["amount_total"] == 4999
    assert session["metadata"] == {"type": "coin_purchase", "package": "large", "user": "alice",
                                   "price_cents": "4999", "coins": "4999", "bonus": "500", "promo": ""}
    d = checkout.to_dict()
    assert d["sessionId"] == session["id"] and d["checkoutUrl"] == session["url"]
    assert d["package"]["totalCoins"] == 5499
    assert e.payments.store.get(session["id"]).status == "open"


def test_a_retry_with_the_same_key_returns_the_same_session(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    first = e.payments.create_checkout("alice", "small", key="abc")
    again = e.payments.create_checkout("alice", "small", key="abc")
    assert again.payment.session_id == first.payment.session_id
    assert len(fake_stripe.sessions) == 1
    with pytest.raises(IdempotencyConflict):
        e.payments.create_checkout("alice", "large", key="abc")


def test_a_second_open_checkout_for_the_same_package_is_refused_within_the_window(make_mem_economy, clock):
    e = make_mem_economy({"purchases": {"open_checkout_window_seconds": 600}}, clock=clock)
    first = e.payments.create_checkout("alice", "small")
    with pytest.raises(CheckoutAlreadyOpen) as err:
        e.payments.create_checkout("alice", "small")
    assert err.value.details["session_id"] == first.payment.session_id
    e.payments.create_checkout("alice", "medium")  # another package is fine
    e.payments.create_checkout("bob", "small")  # so is another user
    clock.advance(seconds=601)
    e.payments.create_checkout("alice", "small")


def test_the_daily_limit_counts_open_and_paid_checkouts(make_mem_economy, fake_stripe, clock):
    e = make_mem_economy({"purchases": {"open_checkout_window_seconds": 0}}, clock=clock)
    first = e.payments.create_checkout("alice", "xl")
    _pay(e, fake_stripe, first.payment.session_id)
    for _ in range(4):
        e.payments.create_checkout("alice", "xl")  # 5 x 99.99 = 499.95
    with pytest.raises(PurchaseLimitExceeded):
        e.payments.create_checkout("alice", "starter")
    clock.advance(days=1)
    e.payments.create_checkout("alice", "starter")


def test_the_daily_limit_comes_from_the_config(make_mem_economy):
    e = make_mem_economy({"purchases": {"daily_limit_cents": 1000}})
    e.payments.create_checkout("alice", "small")
    with pytest.raises(PurchaseLimitExceeded):
        e.payments.create_checkout("alice", "starter")


def test_first50_only_on_a_first_purchase(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    c = e.payments.create_checkout("alice", "large", promo_code="FIRST50")
    assert c.payment.bonus_coins == 500 + 2499
    _pay(e, fake_stripe, c.payment.session_id)
    with pytest.raises(PromoRejected):
        e.payments.create_checkout("alice", "xl", promo_code="FIRST50")


def test_pro_and_welcome100_bonuses_are_credited_as_bonus(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    c = e.payments.create_checkout("alice", "medium", promo_code="WELCOME100", is_pro=True)
    _pay(e, fake_stripe, c.payment.session_id)
    assert e.ledger.balance("user:alice") == 1999 + 100 + 100 + 199
    bonus = [h.amount for h in e.ledger.history("user:alice", entry_type="COIN_PURCHASE_BONUS")]
    assert bonus == [399]


def test_an_unreachable_stripe_is_a_clear_error_and_records_nothing(make_mem_economy):
    e = make_mem_economy()
    e.payments.stripe = make_stripe_client("sk_test_fake", "http://127.0.0.1:9", max_network_retries=0)
    with pytest.raises(PaymentProviderError):
        e.payments.create_checkout("alice", "small")
    assert e.payments.store.all() == []


def test_an_inactive_package_cannot_be_bought(make_mem_economy):
    from ledger.economy.errors import NotFound

    e = make_mem_economy()
    e.catalog.disable("small")
    with pytest.raises(NotFound):
        e.payments.create_checkout("alice", "small")
