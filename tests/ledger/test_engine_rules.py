"""Engine rules the other suites reached only by accident (found by mutation testing of
ledger/engine.py): multi-leg locks and settlements, journal numbering, the fingerprint
of a retry, the limits at their exact edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger import (
    ESCROW,
    MINT,
    Asset,
    Entry,
    EntryType,
    HoldAction,
    HoldStatus,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    LedgerError,
    Posting,
    TransferRequest,
    UnknownAsset,
    limits,
)
from ledger.engine import GENESIS, entry_hash, fingerprint

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
    ids = [e.id for e, _c, _h in funded.store.iter_chain()]
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


# -- the chain hash's exact form: stored chains depend on it, so it never changes ------
ENTRY = Entry(7, "tx7", datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "ADMIN_GRANT", "COIN", 5, MINT, ALICE,
              -10, -15, 10, 15, "grant", "g-1", "k-1", {"b": "é", "a": [1, 2.5, None, True]}, "why")


def test_the_chain_hash_of_an_entry_is_fixed():
    assert entry_hash(GENESIS, ENTRY) == "b49589ea370d796bf98ab47a1ee36087326402e642b6862b1b2f765a0924b21c"
    bare = ENTRY._replace(ref_type=None, ref_id=None, idempotency_key=None, metadata=None, note=None)
    assert entry_hash("ab" * 32, bare) == "d8cd46c921f228580ef7ec7e5d3090cd9d5c4624d0bb14b9814f4aef6a3be775"


def test_the_chain_hash_reads_a_time_as_an_instant():
    utc = ENTRY.time
    assert entry_hash(GENESIS, ENTRY._replace(time=utc.astimezone(timezone(timedelta(hours=2))))) == \
        entry_hash(GENESIS, ENTRY)
    assert entry_hash(GENESIS, ENTRY._replace(time=utc.replace(tzinfo=None))) == entry_hash(GENESIS, ENTRY)


# -- what a refusal says: clients read the message and the details ----------------------
def _lock(hold_id: str = "h1", **kw) -> TransferRequest:
    return TransferRequest((Posting(ALICE, ESCROW, "COIN", 3),), EntryType.HOLD_LOCK,
                           hold=HoldAction("lock", hold_id, ALICE, "COIN", 3, **kw))


REFUSALS = [
    (TransferRequest((Posting(ALICE, MINT, "COIN", 1),), EntryType.TRANSFER, clawback=True),
     "only a COIN_PURCHASE_REFUND request without a hold may be a clawback", {"field": "clawback"}),
    (TransferRequest((Posting(MINT, ALICE, "COIN", 1),), EntryType.ADMIN_GRANT, "k" * 201),
     "idempotency_key is 201 characters, at most 200 allowed", {"field": "idempotency_key", "limit": 200}),
    (_lock("h" * 41), "a hold id must be a string of 1..40 characters", {"field": "hold_id", "limit": 40}),
    (_lock(expires_at=datetime(2026, 1, 1)), "expires_at must be a timezone-aware datetime", {}),
    (TransferRequest((Posting(ALICE, ESCROW, "COIN", 3), Posting(ALICE, BOB, "COIN", 1)), EntryType.HOLD_LOCK,
                     hold=HoldAction("lock", "h2", ALICE, "COIN", 3)),
     "a lock must move exactly the held amount into escrow", {}),
    (TransferRequest((Posting(MINT, ALICE, "COIN", 1),), EntryType.ADMIN_GRANT, metadata={"x": {1, 2}}),
     "metadata is not JSON-serialisable: Object of type set", {"field": "metadata"}),
    (TransferRequest((Posting(MINT, "alice", "COIN", 1),), EntryType.ADMIN_GRANT),
     "bad account address 'alice'", {"field": "address", "address": "alice"}),
    (TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(BOB, BOB, "COIN", 1)), EntryType.TRANSFER),
     "a posting cannot move money from user:bob to itself", {}),
    (TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(BOB, ALICE, "DOGE", 1)), EntryType.TRANSFER),
     "unknown asset 'DOGE'", {"asset": "DOGE"}),
    (TransferRequest((Posting(ALICE, BOB, "COIN", 1),), "NOPE"), "unknown entry type 'NOPE'", {"entry_type": "NOPE"}),
    (TransferRequest((), EntryType.TRANSFER), "a transaction needs at least one posting", {}),
    (TransferRequest((Posting(MINT, ALICE, "COIN", 1),), EntryType.ADMIN_GRANT, "k\ud800"),
     "idempotency_key is not valid Unicode text", {"field": "idempotency_key"}),
]


@pytest.mark.cases("req, message, details", REFUSALS, everywhere=0)
def test_a_refusal_says_what_is_wrong(funded, unchanged, req, message, details):
    with unchanged(), pytest.raises(LedgerError) as err:
        funded.post(req)
    assert str(err.value).startswith(message)
    assert details.items() <= err.value.details.items()


def test_a_balance_past_the_range_names_both_accounts(ledger):
    stripe = "external:stripe"  # may go negative, like the mint
    ledger.mint(CAROL, limits.BALANCE_MAX - 99)
    for req in (TransferRequest((Posting(stripe, CAROL, "COIN", 100),), EntryType.TRANSFER),
                TransferRequest((Posting(stripe, ALICE, "COIN", 1), Posting(stripe, CAROL, "COIN", 100)),
                                EntryType.TRANSFER)):
        with pytest.raises(InvalidRequest, match=f"{stripe} or {CAROL} in COIN would leave the range"):
            ledger.post(req)


def test_multi_leg_requests_reach_the_exact_edges_of_the_range(ledger):
    edge = limits.BALANCE_MAX
    ledger.post(TransferRequest((Posting(MINT, ALICE, "COIN", edge), Posting(ALICE, BOB, "COIN", 1)),
                                EntryType.ADMIN_GRANT))
    ledger.post(TransferRequest((Posting(BOB, ALICE, "COIN", 1), Posting(MINT, CAROL, "COIN", 1)),
                                EntryType.ADMIN_GRANT))  # alice back at the maximum, the mint at the minimum
    assert (ledger.balance(ALICE), ledger.balance(MINT)) == (edge, limits.BALANCE_MIN)
    for req in (TransferRequest((Posting(CAROL, BOB, "COIN", 1), Posting(BOB, ALICE, "COIN", 1)),
                                EntryType.TRANSFER),
                TransferRequest((Posting(CAROL, BOB, "COIN", 1), Posting(MINT, BOB, "COIN", 1)),
                                EntryType.TRANSFER)):
        with pytest.raises(InvalidRequest, match="range"):
            ledger.post(req)


def test_non_ascii_text_within_its_width_is_accepted(ledger):
    tx = ledger.mint(ALICE, 1, key="clé", ref_type="café", ref_id="ré")
    assert (tx.entries[0].idempotency_key, tx.entries[0].ref_type, tx.entries[0].ref_id) == ("clé", "café", "ré")


@pytest.mark.cases("asset, field", [(Asset("", 0), "asset code"), (Asset("G" * 17, 0), "asset code"),
                                    (Asset("GEM", -1), "scale"), (Asset("GEM", 2**15), "scale"),
                                    (Asset("GEM", 0, "n" * 101), "asset name")], everywhere=0)
def test_a_store_refuses_an_asset_its_columns_cannot_hold(ledger, asset, field):
    with pytest.raises(InvalidRequest) as err:
        ledger.store.create_asset(asset)
    assert err.value.details["field"] == field and asset.code not in ledger.store.assets()


def test_a_retry_that_differs_only_in_its_second_leg_is_a_conflict(ledger):
    ledger.mint(ALICE, 10)
    base = TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(ALICE, CAROL, "COIN", 2)), EntryType.TRANSFER,
                           "two-legs", "t", "r")
    ledger.post(base)
    with pytest.raises(IdempotencyConflict):
        ledger.post(base._replace(postings=(base.postings[0], Posting(ALICE, CAROL, "COIN", 3))))
    assert ledger.balance(CAROL) == 2


def test_a_keyed_request_with_a_non_text_asset_is_refused_cleanly(ledger, unchanged):
    ledger.mint(ALICE, 10)
    req = TransferRequest((Posting(ALICE, BOB, "COIN", 1), Posting(ALICE, CAROL, 5, 1)),  # type: ignore[arg-type]
                          EntryType.TRANSFER, "odd-asset")
    with unchanged(), pytest.raises(UnknownAsset):
        ledger.post(req)


DAVE = "user:dave"
# A later leg fails after earlier legs moved money (into a new account, twice through
# the same one): the whole request is refused and nothing it moved stays moved.
LATE_FAILURES = [
    (Posting(ALICE, BOB, "COIN", 200), InsufficientFunds),
    (Posting(ALICE, BOB, "GOLD", 1), UnknownAsset),
    (Posting(ALICE, BOB, "COIN", 0), InvalidRequest),
    (Posting(ALICE, "bad address", "COIN", 1), InvalidRequest),
    (Posting(MINT, BOB, "COIN", limits.BALANCE_MAX), InvalidRequest),
    (Posting(ALICE, BOB, "COIN", 1, "NO_SUCH_TYPE"), InvalidRequest),
]


@pytest.mark.cases("last, error", LATE_FAILURES, everywhere=2)
def test_a_failing_later_leg_leaves_no_earlier_leg_applied(funded, unchanged, last, error):
    req = TransferRequest((Posting(ALICE, DAVE, "COIN", 30), Posting(DAVE, CAROL, "COIN", 20),
                           Posting(BOB, DAVE, "COIN", 5), last), EntryType.TRANSFER)
    with unchanged(), pytest.raises(error):
        funded.post(req)
    assert funded.balance(DAVE) == 0 and funded.balance(CAROL) == 0
    # and the same legs without the failing one still apply as one transaction
    tx = funded.post(req._replace(postings=req.postings[:3]))
    assert [(e.from_before, e.from_after, e.to_before, e.to_after) for e in tx.entries] == [
        (100, 70, 0, 30), (30, 10, 0, 20), (10, 5, 10, 15)]


def test_an_overdraft_in_a_later_leg_reports_the_balance_before_the_transaction(funded, unchanged):
    for legs, account, required, balance in (
            ((Posting(ALICE, CAROL, "COIN", 50), Posting(ALICE, BOB, "COIN", 60)), ALICE, 110, 100),
            ((Posting(ALICE, BOB, "COIN", 5), Posting(BOB, CAROL, "COIN", 20)), BOB, 15, 10),
            ((Posting(ALICE, CAROL, "COIN", 5), Posting(CAROL, DAVE, "COIN", 3), Posting(CAROL, BOB, "COIN", 3)),
             CAROL, 1, 0)):
        with unchanged(), pytest.raises(InsufficientFunds) as err:
            funded.post(TransferRequest(legs, EntryType.TRANSFER))
        assert err.value.details == {"account": account, "asset": "COIN", "required": required,
                                     "balance": balance}
