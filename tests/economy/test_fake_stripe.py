"""The local fake Stripe: the real stripe-python client over HTTP, Stripe's signatures."""

from __future__ import annotations

import pytest
import stripe

from service.fake_stripe import parse_form, sign_payload

PARAMS = {
    "mode": "payment",
    "line_items": [{"quantity": 2, "price_data": {"currency": "usd", "unit_amount": 499,
                                                  "product_data": {"name": "Starter"}}}],
    "metadata": {"type": "coin_purchase", "user": "alice"},
    "success_url": "http://localhost/ok",
}


def test_create_and_retrieve_through_the_real_client(fake_stripe):
    client = fake_stripe.client(max_network_retries=0)
    session = client.v1.checkout.sessions.create(PARAMS)
    assert session.id.startswith("cs_test_") and session.amount_total == 998
    assert session.metadata["type"] == "coin_purchase" and session.status == "open"
    assert client.v1.checkout.sessions.retrieve(session.id).id == session.id


def test_the_same_idempotency_key_returns_the_same_session(fake_stripe):
    client = fake_stripe.client(max_network_retries=0)
    a = client.v1.checkout.sessions.create(PARAMS, {"idempotency_key": "k1"})
    b = client.v1.checkout.sessions.create(PARAMS, {"idempotency_key": "k1"})
    c = client.v1.checkout.sessions.create(PARAMS, {"idempotency_key": "k2"})
    assert a.id == b.id != c.id and len(fake_stripe.sessions) == 2


def test_a_reused_key_with_other_parameters_is_an_idempotency_error(fake_stripe):
    client = fake_stripe.client(max_network_retries=0)
    client.v1.checkout.sessions.create(PARAMS, {"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create({**PARAMS, "metadata": {"type": "other"}}, {"idempotency_key": "k1"})


def test_unknown_session_and_bad_key_are_stripe_errors(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError):
        fake_stripe.client(max_network_retries=0).v1.checkout.sessions.retrieve("cs_missing")
    bad = stripe.StripeClient("sk_test_wrong", base_addresses={"api": fake_stripe.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.checkout.sessions.create(PARAMS)


def test_signatures_verify_with_stripe_python(fake_stripe):
    event = fake_stripe.event("checkout.session.completed", {"id": "cs_1", "object": "checkout.session"})
    body, header = fake_stripe.signed(event)
    verified = stripe.Webhook.construct_event(body, header, fake_stripe.webhook_secret, tolerance=300)
    assert verified.id == event["id"]


def test_sign_payload_matches_stripes_scheme():
    expected = stripe.WebhookSignature.generate_signature_header("{}", "whsec_x", timestamp=1700000000)
    assert sign_payload("{}", "whsec_x", 1700000000) == expected


def test_parse_form_reads_stripes_nested_encoding():
    form = "mode=payment&metadata[user]=a&line_items[0][price_data][unit_amount]=5&line_items[1][quantity]=2"
    assert parse_form(form) == {"mode": "payment", "metadata": {"user": "a"},
                                "line_items": [{"price_data": {"unit_amount": "5"}}, {"quantity": "2"}]}


def test_expire_and_complete_move_the_session(fake_stripe):
    client = fake_stripe.client(max_network_retries=0)
    s = client.v1.checkout.sessions.create(PARAMS)
    event = fake_stripe.complete(s.id)
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["payment_status"] == "paid"
    assert client.v1.checkout.sessions.retrieve(s.id).status == "complete"
    s2 = client.v1.checkout.sessions.create(PARAMS)
    assert fake_stripe.expire(s2.id)["type"] == "checkout.session.expired"
