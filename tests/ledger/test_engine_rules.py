"""Engine rules the other suites reached only by accident (found by mutation testing of
ledger/engine.py): multi-leg locks and settlements, journal numbering, the fingerprint
of a retry, the limits at their exact edges."""

from __future__ import annotations

import pytest

from ledger import (
    ESCROW,
    MINT,
    EntryType,
    HoldAction,
    HoldStatus,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    Posting,
    TransferRequest,
    limits,
)
from ledger.engine import fingerprint

ALICE, BOB, CAROL = "user:alice", "user:bob", "user:carol"


@pytest.fixture
def funded(ledger):
    ledger.mint(ALICE, 100)
    ledger.mint(BOB, 10)
    return ledger


def test_a_lock_with_a_second_posting_is_refused_whole(funded, unchanged):
    req = TransferRequest((Posting(ALICE, ESCROW, "COIN", 30), Posting(ALICE, BOB, "COIN", 5)),
                          EntryType.HOLD_LOCK, hold=HoldAction("lock", "h-two-legs", ALICE, "COIN", 30))
    with unchanged(), pytest.raises(InvalidRequest, match="lock must move exactly"):
        funded.post(req)


def test_a_multi_leg_release_records_when_the_hold_settled(funded, clock):
    hold = funded.lock(ALICE, 30)
    clock.advance(minutes=5)
    funded.release(hold.id, BOB, 20)  # 20 to bob, 10 back to alice: two legs out of escrow
    settled = funded.get_hold(hold.id)
    assert (settled.status, settled.settled_at) == (HoldStatus.RELEASED, clock())
    assert funded.balance(BOB) == 30 and funded.balance(ALICE) == 80


def test_a_multi_leg_forfeit_with_a_rider_records_when_it_settled(funded, clock):
    hold = funded.lock(ALICE, 30)
    clock.advance(seconds=7)
    req = TransferRequest((Posting(ESCROW, CAROL, "COIN", 30), Posting(BOB, CAROL, "COIN", 4)),
                          EntryType.HOLD_FORFEIT, hold=HoldAction("forfeit", hold.id))
    tx = funded.post(req)
    assert tx.hold_id == hold.id and len(tx.entries) == 2
    settled = funded.get_hold(hold.id)
    assert (settled.status, settled.settled_at, settled.amount) == (HoldStatus.FORFEITED, clock(), 30)


def test_a_capture_leaves_the_rest_locked_without_a_settled_time(funded):
    hold = funded.lock(ALICE, 30)
    req = TransferRequest((Posting(ESCROW, BOB, "COIN", 12), Posting(BOB, ALICE, "COIN", 1)),
                          EntryType.TRADE, hold=HoldAction("capture", hold.id))
    funded.post(req)
    after = funded.get_hold(hold.id)
    assert (after.status, after.amount, after.settled_at) == (HoldStatus.LOCKED, 18, None)


def test_journal_ids_never_skip_past_refused_requests(funded):
    funded.transfer(ALICE, BOB, 1)
    with pytest.raises(InsufficientFunds):  # the first leg is fine, the second refused
        funded.post(TransferRequest((Posting(BOB, CAROL, "COIN", 1), Posting(CAROL, ALICE, "COIN", 5)),
                                    EntryType.TRANSFER))
    with pytest.raises(InvalidRequest):
        funded.transfer(ALICE, BOB, 0)
    funded.post(TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(BOB, CAROL, "COIN", 2)),
                                EntryType.TRANSFER))
    funded.transfer(ALICE, CAROL, 1)
    ids = [e.id for e, _h in funded.store.iter_chain()]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) == 6


def test_a_transaction_returns_its_entries_in_leg_order_with_both_sides_balances(funded):
    tx = funded.post(TransferRequest((Posting(ALICE, BOB, "COIN", 5), Posting(BOB, CAROL, "COIN", 12),
                                      Posting(ALICE, CAROL, "COIN", 1, EntryType.FEE)), EntryType.TRANSFER))
    assert [(e.from_account, e.from_before, e.from_after, e.to_account, e.to_before, e.to_after, e.entry_type)
            for e in tx.entries] == [
        (ALICE, 100, 95, BOB, 10, 15, "TRANSFER"),
        (BOB, 15, 3, CAROL, 0, 12, "TRANSFER"),
        (ALICE, 95, 94, CAROL, 12, 13, "FEE")]


def test_an_amount_at_the_int64_limit_is_accepted(ledger):
    tx = ledger.mint(ALICE, limits.AMOUNT_MAX)
    assert tx.entries[0].to_after == limits.AMOUNT_MAX


def test_keys_of_the_longest_allowed_width_are_accepted(ledger):
    key, ref_id, ref_type = "k" * limits.KEY, "r" * limits.REF_ID, "t" * limits.REF_TYPE
    tx = ledger.mint(ALICE, 1, key=key, ref_id=ref_id, ref_type=ref_type, note="é" * 300)
    assert ledger.mint(ALICE, 1, key=key, ref_id=ref_id, ref_type=ref_type, note="é" * 300).replayed
    assert (tx.entries[0].idempotency_key, tx.entries[0].ref_id) == (key, ref_id)


def test_a_retry_that_differs_in_any_field_is_a_conflict(ledger):
    base = TransferRequest((Posting(MINT, ALICE, "COIN", 5),), EntryType.ADMIN_GRANT, "k", "t", "r", None, None)
    ledger.post(base)
    for changed in (base._replace(postings=(Posting(MINT, ALICE, "COIN", 6),)),
                    base._replace(postings=(Posting(MINT, BOB, "COIN", 5),)),
                    base._replace(postings=(Posting(MINT, ALICE, "COIN", 5, EntryType.FEE),)),
                    base._replace(entry_type=EntryType.SIGNUP_BONUS), base._replace(ref_type="u"),
                    base._replace(ref_id="s"), base._replace(note="n"), base._replace(metadata={"a": 1})):
        with pytest.raises(IdempotencyConflict):
            ledger.post(changed)
    assert ledger.balance(ALICE) == 5


def test_the_fast_fingerprint_is_the_json_one():
    """The hand-built text of common requests hashes exactly as the general JSON path."""
    reqs = [TransferRequest((Posting(MINT, ALICE, "COIN", 5),), "DAILY_LOGIN", "k", "t", "r"),
            TransferRequest((Posting(MINT, ALICE, "COIN", 5, "FEE"), Posting(ALICE, BOB, "COIN", 2)), "TRADE",
                            "k", None, "r\u00e9\"", None, "note")]
    for req in reqs:
        slow = fingerprint(req._replace(metadata={}))  # metadata forces the JSON path ...
        fast = fingerprint(req)
        assert fast == fingerprint(req._replace(metadata=None))
        assert fast != slow  # ... and {} is not None: only the metadata differs
        import hashlib
        import json
        payload = [[list(p) for p in req.postings], req.entry_type, req.ref_type, req.ref_id, None, req.note, None]
        text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
        assert fast == hashlib.sha256(text.encode()).hexdigest()
