"""A refund of a disputed (frozen) user's purchase claws the coins back in one atomic
ledger request: the freeze is never lifted, so the user can send nothing meanwhile."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ledger import AccountFrozen, Ledger, check_store
from ledger.economy import Economy
from ledger.economy.config import load_config
from ledger.sql import SqlStore

ALICE, BOB = "user:alice", "user:bob"


def _deliver(e, fake, event):
    body, header = fake.signed(event)
    return e.payments.handle_webhook(body, header)


def _disputed_purchase(e, fake) -> str:
    sid = e.payments.create_checkout("alice", "large").payment.session_id
    _deliver(e, fake, fake.complete(sid))
    _deliver(e, fake, fake.dispute(sid))
    assert e.ledger.store.is_frozen(ALICE)
    return sid


def test_a_refund_of_a_frozen_user_never_lifts_the_freeze(make_economy, fake_stripe):
    e = make_economy()
    sid = _disputed_purchase(e, fake_stripe)
    store = e.ledger.store
    calls: list[tuple[str, bool]] = []
    real = store.set_frozen

    def spy(address: str, frozen: bool) -> None:
        calls.append((address, frozen))
        real(address, frozen)

    store.set_frozen = spy  # type: ignore[method-assign]
    _deliver(e, fake_stripe, fake_stripe.refund(sid, 1000))
    _deliver(e, fake_stripe, fake_stripe.refund(sid))
    assert calls == []
    assert store.is_frozen(ALICE) and e.ledger.balance(ALICE) == 0
    rec = e.payments.store.get(sid)
    assert (rec.status, rec.coins_clawed_back, rec.shortfall_coins) == ("refunded", 5499, 0)
    assert e.ledger.check().ok


def test_transfers_racing_partial_refunds_of_a_frozen_user_never_succeed(pg_url, fake_stripe):
    """Two threads send 1 coin at a time from the frozen user while ten partial refunds
    are delivered concurrently, and a third watches the freeze, on PostgreSQL."""
    ledger = Ledger(SqlStore(pg_url))
    e = Economy.build(ledger, load_config(), stripe_client=fake_stripe.client(max_network_retries=0),
                      webhook_secret=fake_stripe.webhook_secret)
    sid = _disputed_purchase(e, fake_stripe)
    refunds = [fake_stripe.refund(sid, 400) for _ in range(10)]  # cumulative: 400 .. 4000 of 4999 cents
    done = threading.Event()
    sent: list[str] = []
    refused = [0, 0]
    seen_unfrozen: list[bool] = []
    reader = SqlStore(pg_url)

    def spend(slot: int) -> None:
        while not done.is_set():
            try:
                sent.append(ledger.transfer(ALICE, BOB, 1).id)
            except AccountFrozen:
                refused[slot] += 1

    def watch() -> None:
        while not done.is_set():
            if not reader.is_frozen(ALICE):
                seen_unfrozen.append(True)

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(2)] + [threading.Thread(target=watch)]
    for t in threads:
        t.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = [r.outcome for r in pool.map(lambda ev: _deliver(e, fake_stripe, ev), refunds)]
    finally:
        done.set()
        for t in threads:
            t.join()
    assert set(outcomes) == {"refunded"}
    assert sent == [] and seen_unfrozen == []
    assert sum(refused) > 0  # the spenders did run against the refunds
    rec = e.payments.store.get(sid)
    assert rec.refunded_cents == 4000 and rec.coins_clawed_back == 5499 * 4000 // 4999
    assert ledger.balance(BOB) == 0 and ledger.balance(ALICE) == 5499 - rec.coins_clawed_back
    assert ledger.store.is_frozen(ALICE)
    assert check_store(ledger.store).ok
    reader.engine.dispose()
    ledger.store.engine.dispose()  # type: ignore[attr-defined]
