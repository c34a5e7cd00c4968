"""The Stripe webhook: a valid signature is all it needs; coins are credited once."""

from __future__ import annotations

from ledger import user_account


def _paid_event(client, creds, fake_stripe, package="small"):
    r = client.post("/api/coins/purchase/checkout", headers=creds.h(creds.alice), json={"packageId": package})
    return fake_stripe.complete(r.json()["sessionId"], deliver=False)


def test_a_signed_completed_checkout_credits_the_coins_once(client, creds, state, fake_stripe):
    body, sig = fake_stripe.signed(_paid_event(client, creds, fake_stripe))
    first = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sig})
    again = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": sig})
    assert first.status_code == 200 and first.json()["outcome"] == "fulfilled"
    assert again.json()["outcome"] == "duplicate"
    assert state.ledger.balance(user_account("alice")) == 1024


def test_a_bad_signature_is_401_and_credits_nothing(client, creds, state, fake_stripe):
    body, _ = fake_stripe.signed(_paid_event(client, creds, fake_stripe))
    r = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=deadbeef"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_signature"
    assert state.ledger.balance(user_account("alice")) == 0


def test_a_missing_signature_is_401(client, creds, state, fake_stripe):
    body, _ = fake_stripe.signed(_paid_event(client, creds, fake_stripe))
    r = client.post("/api/webhooks/stripe", content=body, headers=creds.h(creds.admin))
    assert r.status_code == 401
    assert state.ledger.balance(user_account("alice")) == 0


def test_a_signed_event_that_is_not_an_event_is_a_client_error(client, fake_stripe):
    body = b'{"hello": "world"}'
    r = client.post("/api/webhooks/stripe", content=body, headers={"Stripe-Signature": fake_stripe.sign(body.decode())})
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
