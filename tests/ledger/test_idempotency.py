"""Idempotency keys: a retry with the same payload returns the original transaction and
applies nothing; the same key with a different payload is a conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import (
    ESCROW,
    EntryType,
    HoldStatus,
    IdempotencyConflict,
    InsufficientFunds,
    Posting,
    Transaction,
    TransferRequest,
)

ALICE, BOB, CAROL = "user:alice", "user:bob", "user:carol"


@pytest.fixture
def funded(ledger):
    ledger.mint(ALICE, 100)
    return ledger


def journal_len(ledger) -> int:
    return sum(1 for _ in ledger.store.iter_journal())


def test_same_key_and_payload_returns_the_original_transaction_marked_replayed(funded, unchanged):
    first = funded.transfer(ALICE, BOB, 30, key="pay-1", metadata={"order": 7}, note="n")
    with unchanged():
        again = funded.transfer(ALICE, BOB, 30, key="pay-1", metadata={"order": 7}, note="n")
    assert again.replayed and not first.replayed
    assert again._replace(replayed=False) == first
    assert (funded.balance(ALICE), funded.balance(BOB)) == (70, 30)


def test_replay_applies_nothing_even_many_times(funded):
    for _ in range(5):
        funded.transfer(ALICE, BOB, 30, key="pay-1")
    assert funded.balance(BOB) == 30
    assert journal_len(funded) == 2
    assert funded.check().ok


def test_replay_is_returned_even_when_the_payer_could_no_longer_pay(funded):
    funded.transfer(ALICE, BOB, 100, key="all-in")
    assert funded.transfer(ALICE, BOB, 100, key="all-in").replayed


def test_metadata_key_order_does_not_make_a_different_payload(funded):
    funded.transfer(ALICE, BOB, 1, key="k", metadata={"a": 1, "b": 2})
    assert funded.transfer(ALICE, BOB, 1, key="k", metadata={"b": 2, "a": 1}).replayed


@pytest.mark.cases(
    "change",
    [
        {"amount": 31},
        {"to_account": CAROL},
        {"asset": "USD"},
        {"entry_type": EntryType.VOTE_SPENT},
        {"ref_id": "other"},
        {"metadata": {"order": 8}},
        {"note": "different"},
    ],
    ids=["amount", "to_account", "asset", "entry_type", "ref_id", "metadata", "note"],
    everywhere=2,
)
def test_same_key_with_a_different_payload_is_a_conflict(funded, unchanged, change):
    original = dict(from_account=ALICE, to_account=BOB, amount=30, asset="COIN",
                    entry_type=EntryType.TRANSFER, ref_id="r1", metadata={"order": 7}, note="n")
    funded.mint(ALICE, 100, "USD")
    funded.transfer(key="pay-1", **original)
    with unchanged(), pytest.raises(IdempotencyConflict) as err:
        funded.transfer(key="pay-1", **{**original, **change})
    assert err.value.details == {"key": "pay-1"}
    assert err.value.code == "idempotency_conflict"


def test_a_key_used_for_one_kind_of_request_conflicts_with_another(funded, unchanged):
    funded.mint(BOB, 5, key="grant-bob")
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.transfer(ALICE, BOB, 5, key="grant-bob")
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.lock(ALICE, 5, key="grant-bob")


def test_a_failed_request_does_not_use_up_its_key(funded):
    with pytest.raises(InsufficientFunds):
        funded.transfer(BOB, CAROL, 10, key="retry-me")
    funded.mint(BOB, 10)
    tx = funded.transfer(BOB, CAROL, 10, key="retry-me")
    assert not tx.replayed
    assert funded.balance(CAROL) == 10


def test_different_keys_apply_separately(funded):
    funded.transfer(ALICE, BOB, 10, key="a")
    funded.transfer(ALICE, BOB, 10, key="b")
    assert funded.balance(BOB) == 20


def test_requests_without_a_key_are_never_deduplicated(funded):
    funded.transfer(ALICE, BOB, 10)
    funded.transfer(ALICE, BOB, 10)
    assert funded.balance(BOB) == 20


def test_once_per_user_grant_is_enforced_by_its_key(ledger):
    for _ in range(3):
        ledger.mint(BOB, 5, entry_type=EntryType.SIGNUP_BONUS, key="signup:bob")
    assert ledger.balance(BOB) == 5
    assert ledger.supply().issued == 5


def test_multi_posting_replay_returns_every_entry(funded, unchanged):
    req = TransferRequest((Posting(ALICE, BOB, "COIN", 10), Posting(ALICE, CAROL, "COIN", 5)),
                          EntryType.TRADE, "trade-1")
    first = funded.post(req)
    with unchanged():
        again = funded.post(req)
    assert again.replayed
    assert again.entries == first.entries


def test_duplicate_key_inside_one_batch_applies_once(funded):
    req = TransferRequest((Posting(ALICE, BOB, "COIN", 10),), EntryType.TRANSFER, "batch-1")
    other = TransferRequest((Posting(ALICE, BOB, "COIN", 11),), EntryType.TRANSFER, "batch-1")
    first, second, third = funded.post_many([req, req, other])
    assert isinstance(first, Transaction) and not first.replayed
    assert isinstance(second, Transaction) and second.replayed and second.id == first.id
    assert isinstance(third, IdempotencyConflict)
    assert funded.balance(BOB) == 10


def test_key_applied_in_a_batch_replays_outside_it(funded):
    req = TransferRequest((Posting(ALICE, BOB, "COIN", 10),), EntryType.TRANSFER, "batch-2")
    (first,) = funded.post_many([req])
    assert isinstance(first, Transaction)
    again = funded.post(req)
    assert again.replayed and again.id == first.id


# -- keys on holds ----------------------------------------------------------------


def test_lock_with_the_same_key_returns_the_same_hold_and_locks_once(funded, unchanged):
    hold = funded.lock(ALICE, 30, key="order-1")
    with unchanged():
        again = funded.lock(ALICE, 30, key="order-1")
    assert again == hold
    assert funded.held(ALICE) == 30
    assert len(funded.store.holds(account=ALICE)) == 1


def test_lock_with_the_same_key_and_another_amount_is_a_conflict(funded, unchanged):
    funded.lock(ALICE, 30, key="order-1")
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.lock(ALICE, 31, key="order-1")


def test_lock_with_the_same_key_and_another_expiry_is_a_conflict(funded, clock, unchanged):
    funded.lock(ALICE, 30, key="order-1", expires_at=clock.now + timedelta(hours=1))
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.lock(ALICE, 30, key="order-1", expires_at=clock.now + timedelta(hours=2))


def test_lock_replay_returns_the_hold_as_it_is_now(funded):
    hold = funded.lock(ALICE, 30, key="order-1")
    funded.release(hold.id, BOB)
    again = funded.lock(ALICE, 30, key="order-1")
    assert again.id == hold.id
    assert again.status == HoldStatus.RELEASED
    assert funded.balance(ALICE) == 70


def test_release_with_the_same_key_applies_once(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    funded.release(hold.id, BOB, 10, key="settle-1")
    with unchanged():
        assert funded.release(hold.id, BOB, 10, key="settle-1").status == HoldStatus.RELEASED
    assert (funded.balance(BOB), funded.balance(ALICE)) == (10, 90)


def test_release_with_the_same_key_and_another_split_is_a_conflict(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    funded.release(hold.id, BOB, 10, key="settle-1")
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.release(hold.id, BOB, 11, key="settle-1")


def test_void_and_forfeit_with_the_same_key_apply_once(funded, unchanged):
    a = funded.lock(ALICE, 10)
    b = funded.lock(ALICE, 20)
    funded.void(a.id, key="void-a")
    funded.forfeit(b.id, key="forfeit-b")
    with unchanged():
        funded.void(a.id, key="void-a")
        funded.forfeit(b.id, key="forfeit-b")
    assert funded.balance(ALICE) == 80
    assert funded.supply().burned == 20


def test_capture_with_the_same_key_takes_once(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    legs = [Posting(ESCROW, BOB, "COIN", 10)]
    first = funded.capture(hold.id, legs, key="fill-1")
    with unchanged():
        again = funded.capture(hold.id, legs, key="fill-1")
    assert again.replayed and again.id == first.id
    assert funded.get_hold(hold.id).amount == 20


def test_settling_one_hold_with_a_key_used_on_another_is_a_conflict(funded, unchanged):
    a = funded.lock(ALICE, 10)
    b = funded.lock(ALICE, 10)
    funded.void(a.id, key="void-1")
    with unchanged(), pytest.raises(IdempotencyConflict):
        funded.void(b.id, key="void-1")


def test_metadata_changed_after_posting_does_not_change_what_a_retry_is_compared_with(funded):
    # The fingerprint is taken when the request is posted: the caller's dict may change later.
    meta = {"order": 7}
    funded.transfer(ALICE, BOB, 1, key="m", metadata=meta)
    meta["order"] = 8
    assert funded.transfer(ALICE, BOB, 1, key="m", metadata={"order": 7}).replayed
    with pytest.raises(IdempotencyConflict):
        funded.transfer(ALICE, BOB, 1, key="m", metadata={"order": 8})


# -- the memory store derives a plain request's fingerprint from its transaction ----------
def test_memory_store_keeps_no_digest_for_a_plain_request_yet_tells_retries_from_reuse():
    from ledger import Ledger, MemoryStore

    ledger = Ledger(MemoryStore())
    ledger.mint(ALICE, 100)
    first = ledger.transfer(ALICE, BOB, 5, key="k", ref_type="claim", ref_id="c1")
    assert ledger.store.book.keys["k"][0] is None  # rebuilt from the transaction on reuse
    assert ledger.transfer(ALICE, BOB, 5, key="k", ref_type="claim", ref_id="c1").replayed
    for changed in ({"amount": 6}, {"ref_id": "c2"}, {"to_account": CAROL}):
        args = {"from_account": ALICE, "to_account": BOB, "amount": 5, "key": "k", "ref_type": "claim",
                "ref_id": "c1", **changed}
        with pytest.raises(IdempotencyConflict):
            ledger.transfer(**args)
    assert ledger.balance(BOB) == 5 and first.entries[0].to_after == 5


def test_memory_store_digests_a_request_with_metadata_at_once():
    from ledger import Ledger, MemoryStore

    ledger = Ledger(MemoryStore())
    ledger.mint(ALICE, 100, key="m", metadata={"why": "x"})
    assert isinstance(ledger.store.book.keys["m"][0], str)
