"""Webhooks: verified, deduplicated, and crediting each paid session exactly once
whatever order, timing or number of deliveries."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger import EntryType
from ledger.economy.errors import WebhookRejected
from ledger.economy.payments import STRIPE
from ledger.economy.rules import PLATFORM

ALICE = "user:alice"


def _state(e):
    """Everything a webhook could change."""
    return (sorted(e.ledger.store.stored_balances()), len(list(e.ledger.store.iter_journal())),
            e.payments.store.all(), e.ledger.store.is_frozen(ALICE))


def _deliver(e, fake, event, timestamp=None):
    body, header = fake.signed(event, timestamp)
    return e.payments.handle_webhook(body, header)


def _checkout(e, package="large", **kw):
    return e.payments.create_checkout("alice", package, **kw).payment.session_id


def test_a_valid_signed_completion_credits_base_bonus_and_revenue_once(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    event = fake_stripe.complete(sid)
    first = _deliver(e, fake_stripe, event)
    again = _deliver(e, fake_stripe, event)
    assert (first.outcome, again.outcome) == ("fulfilled", "duplicate")
    assert e.ledger.balance(ALICE) == 5499
    assert e.ledger.balance(PLATFORM, "USD") == 4999 and e.ledger.balance(STRIPE, "USD") == -4999
    entries = [x for x in e.ledger.store.iter_journal() if x.tx_id == first.tx_id]
    assert sorted((x.entry_type, x.asset, x.amount) for x in entries) == [
        (EntryType.COIN_PURCHASE, "COIN", 4999), (EntryType.COIN_PURCHASE_BONUS, "COIN", 500),
        (EntryType.REVENUE, "USD", 4999)]
    rec = e.payments.store.get(sid)
    assert rec.status == "paid" and rec.fulfil_tx == first.tx_id and rec.payment_intent
    assert e.ledger.check().problems == ()


def test_the_same_event_delivered_ten_times_concurrently_credits_once(make_sql_economy, fake_stripe):
    e = make_sql_economy()
    sid = _checkout(e)
    body, header = fake_stripe.signed(fake_stripe.complete(sid))
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: e.payments.handle_webhook(body, header), range(10)))
    assert e.ledger.balance(ALICE) == 5499
    assert e.ledger.balance(PLATFORM, "USD") == 4999
    assert len({r.tx_id for r in results if r.tx_id}) == 1
    assert e.ledger.check().problems == ()


def test_different_events_for_one_session_racing_credit_once(make_sql_economy, fake_stripe):
    e = make_sql_economy()
    sid = _checkout(e)
    completed = fake_stripe.complete(sid)
    events = [completed] + [fake_stripe.event("checkout.session.async_payment_succeeded",
                                              completed["data"]["object"]) for _ in range(5)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda ev: _deliver(e, fake_stripe, ev), events))
    assert e.ledger.balance(ALICE) == 5499


def test_completed_after_async_payment_succeeded_credits_once(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    unpaid = fake_stripe.complete(sid, async_payment=True)
    succeeded = fake_stripe.succeed_async(sid)
    assert _deliver(e, fake_stripe, succeeded).outcome == "fulfilled"
    assert _deliver(e, fake_stripe, unpaid).outcome == "processing"
    paid_again = fake_stripe.event("checkout.session.completed", succeeded["data"]["object"])
    assert _deliver(e, fake_stripe, paid_again).outcome == "replayed"
    assert e.ledger.balance(ALICE) == 5499
    assert e.payments.store.get(sid).status == "paid"


def test_an_unpaid_completion_waits_for_the_async_payment(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid, async_payment=True))
    assert e.ledger.balance(ALICE) == 0 and e.payments.store.get(sid).status == "processing"
    _deliver(e, fake_stripe, fake_stripe.succeed_async(sid))
    assert e.ledger.balance(ALICE) == 5499


def test_a_failed_async_payment_and_an_expiry_are_recorded_and_credit_nothing(make_economy, fake_stripe):
    e = make_economy({"purchases": {"open_checkout_window_seconds": 0}})
    failing, expiring = _checkout(e), _checkout(e, "small")
    _deliver(e, fake_stripe, fake_stripe.complete(failing, async_payment=True))
    _deliver(e, fake_stripe, fake_stripe.fail_async(failing))
    _deliver(e, fake_stripe, fake_stripe.expire(expiring))
    assert e.payments.store.get(failing).status == "failed"
    assert e.payments.store.get(expiring).status == "expired"
    assert e.ledger.balance(ALICE) == 0


def test_a_late_failure_never_undoes_a_credit(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e)
    completed = fake_stripe.complete(sid)
    _deliver(e, fake_stripe, completed)
    _deliver(e, fake_stripe, fake_stripe.event("checkout.session.async_payment_failed", completed["data"]["object"]))
    assert e.payments.store.get(sid).status == "paid" and e.ledger.balance(ALICE) == 5499


def test_a_refund_claws_back_the_coins_and_the_revenue(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    result = _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert result.outcome == "refunded"
    assert e.ledger.balance(ALICE) == 0 and e.ledger.balance(PLATFORM, "USD") == 0
    rec = e.payments.store.get(sid)
    assert (rec.status, rec.refunded_cents, rec.coins_clawed_back, rec.shortfall_coins) == ("refunded", 4999, 5499, 0)


def test_a_refund_that_arrives_before_the_completion_is_applied_after_it(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    completed = fake_stripe.complete(sid, deliver=False)
    refunded = fake_stripe.refund(sid)
    assert _deliver(e, fake_stripe, refunded).outcome == "pending"
    assert e.ledger.balance(ALICE) == 0
    assert _deliver(e, fake_stripe, completed).outcome == "fulfilled"
    assert e.ledger.balance(ALICE) == 0 and e.ledger.balance(PLATFORM, "USD") == 0
    assert e.payments.store.get(sid).status == "refunded"
    assert _deliver(e, fake_stripe, refunded).outcome == "duplicate"
    assert e.ledger.check().problems == ()


def test_a_partial_refund_claws_back_a_proportional_share(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e, "small")  # 999 cents, 1024 coins
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    _deliver(e, fake_stripe, fake_stripe.refund(sid, 500))
    assert e.ledger.balance(ALICE) == 1024 - 1024 * 500 // 999
    _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert e.ledger.balance(ALICE) == 0 and e.ledger.balance(PLATFORM, "USD") == 0


def test_a_refund_of_spent_coins_takes_what_is_there_and_flags_the_user(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    e.ledger.transfer(ALICE, "user:bob", 5000)
    _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert e.ledger.balance(ALICE) == 0
    rec = e.payments.store.get(sid)
    assert (rec.coins_clawed_back, rec.shortfall_coins) == (499, 5000)
    assert [(f.user_id, f.reason) for f in e.payments.store.flags()] == [("alice", "refund_shortfall")]
    assert e.ledger.check().problems == ()


def test_the_keep_policy_reverses_revenue_only(make_mem_economy, fake_stripe):
    e = make_mem_economy({"refunds": {"policy": "keep"}})
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert e.ledger.balance(ALICE) == 5499 and e.ledger.balance(PLATFORM, "USD") == 0


def test_a_dispute_freezes_the_account(make_economy, fake_stripe):
    e = make_economy()
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    assert _deliver(e, fake_stripe, fake_stripe.dispute(sid)).outcome == "frozen"
    assert e.ledger.store.is_frozen(ALICE) and e.payments.store.get(sid).disputed
    assert [f.reason for f in e.payments.store.flags("alice")] == ["dispute"]


def test_a_refund_after_a_dispute_still_claws_back_and_keeps_the_freeze(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e)
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    _deliver(e, fake_stripe, fake_stripe.dispute(sid))
    _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert e.ledger.balance(ALICE) == 0 and e.ledger.store.is_frozen(ALICE)


def _tampered(body: bytes) -> bytes:
    ev = json.loads(body)
    ev["data"]["object"]["metadata"]["coins"] = "999999"
    return json.dumps(ev, indent=2).encode()


@pytest.mark.parametrize("forge", [
    pytest.param(lambda f, body: (body, f.sign(body.decode()).replace("v1=", "v1=00")), id="bad-signature"),
    pytest.param(lambda f, body: (body, f.sign(body.decode(), int(time.time()) - 301)), id="stale-timestamp"),
    pytest.param(lambda f, body: (_tampered(body), f.sign(body.decode())), id="tampered-body"),
    pytest.param(lambda f, body: (body, None), id="no-header"),
    pytest.param(lambda f, body: (body, "t=1,v1=zz"), id="garbage-header"),
])
def test_a_forged_webhook_is_rejected_and_changes_nothing(make_mem_economy, fake_stripe, forge):
    e = make_mem_economy()
    sid = _checkout(e)
    body, _ = fake_stripe.signed(fake_stripe.complete(sid))
    before = _state(e)
    bad_body, bad_header = forge(fake_stripe, body)
    with pytest.raises(WebhookRejected):
        e.payments.handle_webhook(bad_body, bad_header)
    assert _state(e) == before


def test_a_forged_webhook_changes_nothing_in_sql(make_sql_economy, fake_stripe):
    e = make_sql_economy()
    sid = _checkout(e)
    body, header = fake_stripe.signed(fake_stripe.complete(sid))
    before = _state(e)
    for bad_body, bad_header in ((_tampered(body), header),
                                 (body, fake_stripe.sign(body.decode(), int(time.time()) - 301))):
        with pytest.raises(WebhookRejected):
            e.payments.handle_webhook(bad_body, bad_header)
    assert _state(e) == before


@pytest.mark.parametrize("body", ["[1, 2]", '"checkout.session.completed"', "null", "{not json"])
def test_a_signed_body_that_is_not_a_json_object_is_rejected_and_changes_nothing(make_mem_economy, fake_stripe, body):
    e = make_mem_economy()
    _checkout(e)
    before = _state(e)
    with pytest.raises(WebhookRejected):
        e.payments.handle_webhook(body.encode(), fake_stripe.sign(body, int(time.time())))
    assert _state(e) == before


def test_a_timestamp_inside_the_tolerance_is_accepted(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e)
    event = fake_stripe.complete(sid)
    assert _deliver(e, fake_stripe, event, int(time.time()) - 290).outcome == "fulfilled"


def test_a_session_created_elsewhere_is_credited_from_its_signed_metadata(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    session = fake_stripe.create_session({
        "mode": "payment", "metadata": {"type": "coin_purchase", "package": "small", "user": "alice",
                                        "price_cents": "999", "coins": "999", "bonus": "25"},
        "line_items": [{"quantity": "1", "price_data": {"currency": "usd", "unit_amount": "999"}}]})
    _deliver(e, fake_stripe, fake_stripe.complete(session["id"]))
    assert e.ledger.balance(ALICE) == 1024


def test_a_session_that_is_not_a_coin_purchase_is_ignored(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    session = fake_stripe.create_session({
        "mode": "payment", "metadata": {"type": "advertiser"},
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": "5000"}}]})
    assert _deliver(e, fake_stripe, fake_stripe.complete(session["id"])).outcome == "ignored"
    assert e.ledger.balance(PLATFORM, "USD") == 0


def test_the_fake_delivers_a_signed_webhook_to_a_url(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    results = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            results.append(e.payments.handle_webhook(body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fake_stripe.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/stripe"
        sid = _checkout(e)
        fake_stripe.complete(sid)
    finally:
        server.shutdown()
        server.server_close()
    assert [r.outcome for r in results] == ["fulfilled"]
    assert e.ledger.balance(ALICE) == 5499


def test_two_partial_refunds_racing_claw_back_exactly_once(make_sql_economy, fake_stripe):
    e = make_sql_economy()
    sid = _checkout(e, "small")
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    first, second = fake_stripe.refund(sid, 300), fake_stripe.refund(sid)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda ev: _deliver(e, fake_stripe, ev), [second, first, second, first]))
    assert e.ledger.balance(ALICE) == 0 and e.ledger.balance(PLATFORM, "USD") == 0
    rec = e.payments.store.get(sid)
    assert (rec.status, rec.refunded_cents, rec.coins_clawed_back) == ("refunded", 999, 1024)
    assert e.ledger.check().problems == ()


def test_a_refund_booked_before_a_crash_is_not_booked_again(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e, "small")
    _deliver(e, fake_stripe, fake_stripe.complete(sid))
    refunded = fake_stripe.refund(sid)
    _deliver(e, fake_stripe, refunded)
    # the process died after the ledger booked the refund but before the store saw it
    e.payments.store.update(sid, status="paid", refunded_cents=0, coins_clawed_back=0)
    e.ledger.mint(ALICE, 50)
    redelivered = fake_stripe.event("charge.refunded", refunded["data"]["object"])
    _deliver(e, fake_stripe, redelivered)
    assert e.ledger.balance(ALICE) == 50 and e.ledger.balance(PLATFORM, "USD") == 0
    rec = e.payments.store.get(sid)
    assert (rec.status, rec.refunded_cents, rec.coins_clawed_back) == ("refunded", 999, 1024)


def test_a_dispute_that_arrives_before_the_completion_freezes_after_the_credit(make_mem_economy, fake_stripe):
    e = make_mem_economy()
    sid = _checkout(e)
    completed = fake_stripe.complete(sid, deliver=False)
    assert _deliver(e, fake_stripe, fake_stripe.dispute(sid)).outcome == "pending"
    assert not e.ledger.store.is_frozen(ALICE)
    _deliver(e, fake_stripe, completed)
    assert e.ledger.balance(ALICE) == 5499 and e.ledger.store.is_frozen(ALICE)
