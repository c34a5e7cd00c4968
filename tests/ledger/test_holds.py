"""Holds: lock into escrow, release all or part, capture, void, forfeit, expiry and the
LOCKED -> RELEASED / VOIDED / FORFEITED state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger import (
    BURN,
    ESCROW,
    AccountFrozen,
    EntryType,
    HoldAction,
    HoldExpired,
    HoldNotFound,
    HoldNotLocked,
    HoldStatus,
    InsufficientFunds,
    InvalidRequest,
    Posting,
    TransferRequest,
    UnknownAsset,
)
from tests.ledger.conftest import snapshot

ALICE, BOB, POT = "user:alice", "user:bob", "pool:p1"
T0 = datetime(2026, 1, 1, 13, 0, tzinfo=UTC)


@pytest.fixture
def funded(ledger):
    ledger.mint(ALICE, 100)
    ledger.mint(BOB, 100)
    return ledger


def journal(ledger):
    return list(ledger.store.iter_journal())


# -- lock -------------------------------------------------------------------------


def test_lock_moves_funds_into_escrow_under_a_locked_hold(funded, clock):
    hold = funded.lock(ALICE, 30, ref_type="stake", ref_id="pool-1")
    assert hold.status == HoldStatus.LOCKED
    assert (hold.account, hold.asset, hold.amount) == (ALICE, "COIN", 30)
    assert (hold.ref_type, hold.ref_id) == ("stake", "pool-1")
    assert hold.created_at == clock.now
    assert hold.expires_at is None and hold.settled_at is None
    assert funded.balance(ALICE) == 70
    assert funded.balance(ESCROW) == 30
    assert funded.held(ALICE) == 30
    assert funded.get_hold(hold.id) == hold
    assert funded.check().ok


def test_lock_is_journalled_as_a_move_into_escrow(funded):
    hold = funded.lock(ALICE, 30, ref_type="stake", ref_id="pool-1")
    e = journal(funded)[-1]
    assert (e.from_account, e.to_account, e.amount, e.entry_type) == (ALICE, ESCROW, 30, "HOLD_LOCK")
    assert (e.from_before, e.from_after, e.to_before, e.to_after) == (100, 70, 0, 30)
    assert (e.ref_type, e.ref_id) == ("stake", "pool-1")
    assert hold.id


def test_lock_may_use_its_own_entry_type(funded):
    funded.lock(ALICE, 5, entry_type=EntryType.BELT_CHALLENGE_ENTRY)
    assert journal(funded)[-1].entry_type == "BELT_CHALLENGE_ENTRY"


def test_each_lock_is_a_separate_hold(funded):
    a = funded.lock(ALICE, 10)
    b = funded.lock(ALICE, 15)
    assert a.id != b.id
    assert funded.held(ALICE) == 25
    assert {h.id for h in funded.store.holds(account=ALICE)} == {a.id, b.id}


def test_lock_more_than_the_balance_is_refused(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds) as err:
        funded.lock(ALICE, 101)
    assert err.value.details["balance"] == 100


@pytest.mark.cases("amount", [0, -5, 2.5, True, Decimal("3")])
def test_lock_rejects_a_bad_amount(funded, unchanged, amount):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.lock(ALICE, amount)


def test_lock_in_an_unknown_asset_is_refused(funded, unchanged):
    with unchanged(), pytest.raises(UnknownAsset):
        funded.lock(ALICE, 1, "DOGE")


def test_locked_funds_cannot_be_spent(funded, unchanged):
    funded.lock(ALICE, 90)
    with unchanged(), pytest.raises(InsufficientFunds):
        funded.transfer(ALICE, BOB, 11)


def test_lock_request_must_move_exactly_the_held_amount_into_escrow(funded, unchanged):
    from ledger import HoldAction

    with unchanged(), pytest.raises(InvalidRequest):
        funded.post(TransferRequest((Posting(ALICE, ESCROW, "COIN", 5),), "HOLD_LOCK",
                                    hold=HoldAction("lock", "hx", ALICE, "COIN", 6)))


def test_escrow_cannot_be_paid_from_without_a_hold(funded, unchanged):
    funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ESCROW, BOB, 30)


def test_escrow_cannot_be_paid_into_without_a_lock(funded, unchanged):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ALICE, ESCROW, 30)


# -- release ----------------------------------------------------------------------


def test_release_pays_the_whole_hold_to_the_destination(funded, clock):
    hold = funded.lock(ALICE, 30)
    clock.advance(minutes=5)
    done = funded.release(hold.id, POT)
    assert done.status == HoldStatus.RELEASED
    assert done.settled_at == clock.now
    assert done.amount == 30
    assert funded.balance(POT) == 30
    assert funded.balance(ALICE) == 70
    assert funded.balance(ESCROW) == 0
    assert funded.held(ALICE) == 0
    assert funded.check().ok


def test_release_is_journalled_out_of_escrow_with_the_hold_refs(funded):
    hold = funded.lock(ALICE, 30, ref_type="stake", ref_id="s1")
    funded.release(hold.id, POT, note="won")
    e = journal(funded)[-1]
    assert (e.from_account, e.to_account, e.amount, e.entry_type) == (ESCROW, POT, 30, "HOLD_RELEASE")
    assert (e.from_before, e.from_after, e.to_before, e.to_after) == (30, 0, 0, 30)
    assert (e.ref_type, e.ref_id, e.note) == ("stake", "s1", "won")


def test_release_part_returns_the_remainder_to_the_holder(funded):
    hold = funded.lock(ALICE, 30)
    done = funded.release(hold.id, POT, 12)
    assert done.status == HoldStatus.RELEASED
    assert funded.balance(POT) == 12
    assert funded.balance(ALICE) == 88
    assert funded.balance(ESCROW) == 0
    paid, back = journal(funded)[-2:]
    assert paid.tx_id == back.tx_id
    assert (paid.to_account, paid.amount, paid.entry_type) == (POT, 12, "HOLD_RELEASE")
    assert (back.to_account, back.amount, back.entry_type) == (ALICE, 18, "HOLD_RETURN")
    assert funded.check().ok


def test_release_of_nothing_returns_everything(funded):
    hold = funded.lock(ALICE, 30)
    funded.release(hold.id, POT, 0)
    assert funded.balance(ALICE) == 100
    assert funded.balance(POT) == 0


def test_release_may_use_its_own_entry_type(funded):
    hold = funded.lock(ALICE, 30)
    funded.release(hold.id, BOB, entry_type=EntryType.STAKE_PAYOUT)
    assert journal(funded)[-1].entry_type == "STAKE_PAYOUT"


@pytest.mark.cases("amount", [31, -1, 2.5, True, Decimal("3")], everywhere=2)
def test_release_rejects_a_bad_amount(funded, unchanged, amount):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.release(hold.id, POT, amount)
    assert funded.get_hold(hold.id).status == HoldStatus.LOCKED


def test_release_to_a_bad_address_is_refused(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.release(hold.id, "nowhere")


# -- capture ----------------------------------------------------------------------


def test_capture_takes_part_and_keeps_the_rest_locked(funded):
    hold = funded.lock(ALICE, 30)
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10)])
    after = funded.get_hold(hold.id)
    assert after.status == HoldStatus.LOCKED
    assert after.amount == 20
    assert after.settled_at is None
    assert funded.balance(BOB) == 110
    assert funded.balance(ESCROW) == 20
    assert funded.held(ALICE) == 20
    assert funded.check().ok


def test_capture_then_release_settles_the_rest(funded):
    hold = funded.lock(ALICE, 30)
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10)])
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 5)])
    done = funded.release(hold.id, POT, 5)
    assert done.status == HoldStatus.RELEASED
    assert (funded.balance(BOB), funded.balance(POT), funded.balance(ALICE)) == (115, 5, 80)
    assert funded.balance(ESCROW) == 0
    assert funded.check().ok


def test_capture_carries_the_other_side_of_a_trade_in_the_same_transaction(funded):
    funded.create_asset("HEATHER")
    funded.mint(BOB, 50, "HEATHER")
    hold = funded.lock(ALICE, 30)  # Alice's resting buy order
    tx = funded.capture(hold.id, [
        Posting(ESCROW, BOB, "COIN", 12),
        Posting(BOB, ALICE, "HEATHER", 4),
        Posting(ESCROW, "system:fees", "COIN", 1, EntryType.FEE),
    ], entry_type=EntryType.TRADE)
    assert {e.tx_id for e in tx.entries} == {tx.id}
    assert funded.get_hold(hold.id).amount == 17
    assert funded.balance(ALICE, "HEATHER") == 4
    assert funded.balance(BOB) == 112
    assert [e.entry_type for e in tx.entries] == ["TRADE", "TRADE", "FEE"]
    assert funded.check().ok


def test_capture_with_settle_takes_everything_and_ends_the_hold(funded):
    hold = funded.lock(ALICE, 30)
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 25), Posting(ESCROW, ALICE, "COIN", 5)],
                   settle=True)
    assert funded.get_hold(hold.id).status == HoldStatus.RELEASED
    assert funded.balance(ESCROW) == 0


@pytest.mark.cases("amount", [30, 31])
def test_capture_of_the_whole_hold_or_more_is_refused(funded, unchanged, amount):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", amount)])


def test_capture_that_takes_nothing_from_escrow_is_refused(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(BOB, ALICE, "COIN", 5)])


def test_capture_in_another_asset_is_refused(funded, unchanged):
    funded.mint(ALICE, 500, "USD")
    funded.lock(ALICE, 100, "USD")
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(ESCROW, BOB, "USD", 5)])


@pytest.mark.cases("amount", [0, -3, 2.5, "3"])
def test_capture_rejects_a_bad_amount(funded, unchanged, amount):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10), Posting(ESCROW, BOB, "COIN", amount)])


def test_settle_with_legs_that_do_not_add_up_to_the_hold_is_refused(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 29)], settle=True)


def test_a_capture_cannot_pay_into_escrow(funded, unchanged):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(InvalidRequest):
        funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10), Posting(BOB, ESCROW, "COIN", 10)])


# -- void and forfeit ---------------------------------------------------------------


def test_void_returns_the_whole_hold_to_the_holder(funded, clock):
    hold = funded.lock(ALICE, 30)
    clock.advance(seconds=1)
    done = funded.void(hold.id, note="cancelled")
    assert done.status == HoldStatus.VOIDED
    assert done.settled_at == clock.now
    assert funded.balance(ALICE) == 100
    assert funded.balance(ESCROW) == 0
    e = journal(funded)[-1]
    assert (e.from_account, e.to_account, e.amount, e.entry_type, e.note) == (ESCROW, ALICE, 30, "HOLD_RETURN", "cancelled")
    assert funded.check().ok


def test_void_after_a_capture_returns_what_is_left(funded):
    hold = funded.lock(ALICE, 30)
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10)])
    funded.void(hold.id)
    assert funded.balance(ALICE) == 90
    assert funded.balance(BOB) == 110


def test_forfeit_burns_the_hold_by_default(funded):
    hold = funded.lock(ALICE, 30)
    done = funded.forfeit(hold.id)
    assert done.status == HoldStatus.FORFEITED
    assert funded.balance(BURN) == 30
    assert funded.balance(ALICE) == 70
    e = journal(funded)[-1]
    assert (e.from_account, e.to_account, e.amount, e.entry_type) == (ESCROW, BURN, 30, "HOLD_FORFEIT")
    assert funded.check().ok


def test_forfeit_can_pay_a_destination(funded):
    hold = funded.lock(ALICE, 30)
    funded.forfeit(hold.id, POT, entry_type=EntryType.CHALLENGE_PAYOUT)
    assert funded.get_hold(hold.id).status == HoldStatus.FORFEITED
    assert funded.balance(POT) == 30
    assert funded.balance(BURN) == 0
    assert journal(funded)[-1].entry_type == "CHALLENGE_PAYOUT"


# -- state machine ----------------------------------------------------------------


SETTLE = {
    "release": lambda ledger, hid: ledger.release(hid, POT),
    "release-part": lambda ledger, hid: ledger.release(hid, POT, 1),
    "void": lambda ledger, hid: ledger.void(hid),
    "forfeit": lambda ledger, hid: ledger.forfeit(hid),
    "capture": lambda ledger, hid: ledger.capture(hid, [Posting(ESCROW, POT, "COIN", 1)]),
}
ENDS = {"release": HoldStatus.RELEASED, "void": HoldStatus.VOIDED, "forfeit": HoldStatus.FORFEITED}


# The first three pairs (one per end state) run on every store.
PAIRS = [("release", "capture"), ("void", "release"), ("forfeit", "void")]
PAIRS += [(f, t) for f in sorted(ENDS) for t in sorted(SETTLE) if (f, t) not in PAIRS]


@pytest.mark.cases("first, then", PAIRS, ids=[f"{f}-then-{t}" for f, t in PAIRS], everywhere=3)
def test_settling_a_hold_that_is_not_locked_raises_hold_not_locked(funded, unchanged, first, then):
    hold = funded.lock(ALICE, 30)
    SETTLE[first](funded, hold.id)
    assert funded.get_hold(hold.id).status == ENDS[first]
    with unchanged(), pytest.raises(HoldNotLocked) as err:
        SETTLE[then](funded, hold.id)
    assert err.value.details == {"hold_id": hold.id, "status": ENDS[first]}


@pytest.mark.cases("action", sorted(SETTLE))
def test_settling_an_unknown_hold_raises_hold_not_found(funded, unchanged, action):
    with unchanged(), pytest.raises(HoldNotFound) as err:
        SETTLE[action](funded, "no-such-hold")
    assert err.value.details == {"hold_id": "no-such-hold"}


def test_get_hold_of_an_unknown_id_raises_hold_not_found(ledger):
    with pytest.raises(HoldNotFound):
        ledger.get_hold("nope")
    assert ledger.store.get_hold("nope") is None


def test_holds_can_be_listed_by_account_and_status(funded):
    a = funded.lock(ALICE, 10)
    b = funded.lock(ALICE, 10)
    c = funded.lock(BOB, 10)
    funded.void(b.id)
    assert {h.id for h in funded.store.holds(status=HoldStatus.LOCKED)} == {a.id, c.id}
    assert {h.id for h in funded.store.holds(account=ALICE)} == {a.id, b.id}
    assert [h.id for h in funded.store.holds(account=ALICE, status=HoldStatus.VOIDED)] == [b.id]


# -- expiry -----------------------------------------------------------------------


def test_lock_records_its_expiry(funded, clock):
    expires = clock.now + timedelta(hours=1)
    hold = funded.lock(ALICE, 30, expires_at=expires)
    assert funded.get_hold(hold.id).expires_at == expires


@pytest.mark.cases("expires_at", [T0.replace(tzinfo=None), "2026-01-01T13:00:00Z", 1_800_000_000],
                   ids=["naive", "string", "number"])
def test_lock_rejects_an_expiry_that_is_not_an_aware_datetime(funded, unchanged, expires_at):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.lock(ALICE, 30, expires_at=expires_at)
    assert funded.expire_holds() == []


def test_release_before_expiry_works(funded, clock):
    hold = funded.lock(ALICE, 30, expires_at=clock.now + timedelta(hours=1))
    clock.advance(minutes=59)
    assert funded.release(hold.id, POT).status == HoldStatus.RELEASED


EXPIRED = [(after, action) for after in (timedelta(0), timedelta(seconds=1), timedelta(days=3))
           for action in ("release", "capture", "forfeit", "release-part")]


@pytest.mark.cases("after, action", EXPIRED, ids=[f"{a.total_seconds():g}s-{b}" for a, b in EXPIRED],
                   everywhere=2)
def test_settling_an_expired_hold_raises_hold_expired(funded, clock, unchanged, after, action):
    hold = funded.lock(ALICE, 30, expires_at=clock.now + timedelta(hours=1))
    clock.advance(hours=1)
    clock.now += after
    with unchanged(), pytest.raises(HoldExpired) as err:
        SETTLE[action](funded, hold.id)
    assert err.value.details == {"hold_id": hold.id}


def test_an_expired_hold_can_still_be_voided(funded, clock):
    hold = funded.lock(ALICE, 30, expires_at=clock.now + timedelta(hours=1))
    clock.advance(hours=2)
    assert funded.void(hold.id).status == HoldStatus.VOIDED
    assert funded.balance(ALICE) == 100


def test_expire_holds_voids_only_the_expired_locked_holds(funded, clock):
    soon = funded.lock(ALICE, 10, expires_at=clock.now + timedelta(minutes=10))
    exact = funded.lock(ALICE, 5, expires_at=clock.now + timedelta(minutes=30))
    later = funded.lock(ALICE, 20, expires_at=clock.now + timedelta(hours=2))
    never = funded.lock(BOB, 7)
    released = funded.lock(BOB, 3, expires_at=clock.now + timedelta(minutes=1))
    funded.release(released.id, POT)
    clock.advance(minutes=30)
    voided = funded.expire_holds()
    assert sorted(h.id for h in voided) == sorted([soon.id, exact.id])
    assert all(h.status == HoldStatus.VOIDED for h in voided)
    assert funded.get_hold(later.id).status == HoldStatus.LOCKED
    assert funded.get_hold(never.id).status == HoldStatus.LOCKED
    assert funded.get_hold(released.id).status == HoldStatus.RELEASED
    assert funded.balance(ALICE) == 80
    assert funded.balance(POT) == 3
    assert funded.check().ok


def test_expire_holds_returns_the_captured_remainder(funded, clock):
    hold = funded.lock(ALICE, 30, expires_at=clock.now + timedelta(minutes=10))
    funded.capture(hold.id, [Posting(ESCROW, BOB, "COIN", 10)])
    clock.advance(minutes=10)
    (voided,) = funded.expire_holds()
    assert voided.id == hold.id
    assert funded.balance(ALICE) == 90


def test_expire_holds_with_nothing_expired_changes_nothing(funded, clock, unchanged):
    funded.lock(ALICE, 10, expires_at=clock.now + timedelta(minutes=10))
    with unchanged():
        assert funded.expire_holds() == []


def test_expire_holds_accepts_an_explicit_time(funded, clock):
    hold = funded.lock(ALICE, 10, expires_at=clock.now + timedelta(minutes=10))
    assert funded.expire_holds(clock.now + timedelta(minutes=9)) == []
    (voided,) = funded.expire_holds(clock.now + timedelta(minutes=10))
    assert voided.id == hold.id


def test_escrow_always_equals_the_locked_holds(funded, clock):
    a = funded.lock(ALICE, 10)
    b = funded.lock(BOB, 20)
    funded.lock(ALICE, 30)
    funded.capture(b.id, [Posting(ESCROW, POT, "COIN", 5)])
    funded.forfeit(a.id)
    locked = sum(h.amount for h in funded.store.holds(status=HoldStatus.LOCKED))
    assert funded.balance(ESCROW) == locked == 45
    assert funded.check().ok


# -- one-leg hold requests --------------------------------------------------------
# A lock, and a settlement with a single leg (a void), skip the engine's general
# multi-leg loop: these pin that they still apply every one of its leg rules.


def lock_request(account, asset, amount, leg_type=None, hold_id="hz"):
    return TransferRequest((Posting(account, ESCROW, asset, amount, leg_type),), "HOLD_LOCK",
                           hold=HoldAction("lock", hold_id, account, asset, amount))


LOCK_REFUSALS = [
    ((ALICE, "COIN", 101), InsufficientFunds, "has 100 COIN, needs 101"),
    ((ALICE, "DOGE", 1), UnknownAsset, "DOGE"),
    ((ALICE, "COIN", 1, "NO_SUCH_TYPE"), InvalidRequest, "unknown entry type"),
    ((ESCROW, "COIN", 1), InvalidRequest, "to itself"),
    (("nowhere", "COIN", 1), InvalidRequest, "bad account address"),
    (("user:nobody", "COIN", 1), InsufficientFunds, "has 0 COIN, needs 1"),
]


@pytest.mark.cases("args, error, text", LOCK_REFUSALS,
                   ids=["overdraft", "unknown-asset", "bad-leg-type", "escrow-itself", "bad-address", "no-funds"])
def test_lock_applies_every_leg_rule(funded, unchanged, args, error, text):
    with unchanged(), pytest.raises(error, match=text):
        funded.post(lock_request(*args))
    assert funded.store.get_hold("hz") is None


def test_lock_of_a_frozen_account_is_refused_before_its_balance_is_read(funded, unchanged):
    funded.freeze(ALICE)
    with unchanged(), pytest.raises(AccountFrozen):
        funded.post(lock_request(ALICE, "COIN", 101))  # frozen wins over the overdraft


def test_lock_with_an_existing_hold_id_is_refused(memory_ledger):
    memory_ledger.mint(ALICE, 100)
    memory_ledger.post(lock_request(ALICE, "COIN", 10))
    before = snapshot(memory_ledger)
    with pytest.raises(InvalidRequest, match="already exists"):
        memory_ledger.post(lock_request(ALICE, "COIN", 5))
    assert snapshot(memory_ledger) == before


def void_request(hold_id, to=ALICE, amount=30, leg_type=None):
    return TransferRequest((Posting(ESCROW, to, "COIN", amount, leg_type),), "HOLD_RETURN",
                           hold=HoldAction("void", hold_id))


@pytest.mark.cases("kw, error, text", [
    ({"leg_type": "NO_SUCH_TYPE"}, InvalidRequest, "unknown entry type"),
    ({"to": ESCROW}, InvalidRequest, "to itself"),
    ({"amount": 29}, InvalidRequest, "exactly 30"),
    ({"to": "nowhere"}, InvalidRequest, "bad account address"),
], ids=["bad-leg-type", "escrow-itself", "short", "bad-address"])
def test_one_leg_settlement_applies_every_leg_rule(funded, unchanged, kw, error, text):
    hold = funded.lock(ALICE, 30)
    with unchanged(), pytest.raises(error, match=text):
        funded.post(void_request(hold.id, **kw))
    assert funded.get_hold(hold.id).status == HoldStatus.LOCKED


def _empty_hold(book):
    (hold_id, hold), = book.holds.items()
    book.holds[hold_id] = hold._replace(amount=0)


@pytest.mark.parametrize("tamper, error", [
    (lambda book: book.frozen.add(ESCROW), AccountFrozen),
    (lambda book: book.balances.__setitem__((ESCROW, "COIN"), 29), InsufficientFunds),
    (lambda book: book.assets.discard("COIN"), UnknownAsset),
], ids=["frozen-escrow", "escrow-short", "asset-gone"])
def test_one_leg_settlement_checks_escrow_like_any_payer(memory_ledger, tamper, error):
    """States the market cannot reach, made by hand: the void must still refuse them."""
    memory_ledger.mint(ALICE, 100)
    hold = memory_ledger.lock(ALICE, 30)
    tamper(memory_ledger.store.book)
    before = snapshot(memory_ledger)
    with pytest.raises(error):
        memory_ledger.post(void_request(hold.id))
    assert snapshot(memory_ledger) == before


def test_one_leg_settlement_cannot_pay_into_escrow(memory_ledger):
    """A hold holding nothing (made by hand) settles with no leg out of escrow, so its
    one leg could try to pay into escrow: only a lock may."""
    memory_ledger.mint(ALICE, 100)
    hold = memory_ledger.lock(ALICE, 30)
    _empty_hold(memory_ledger.store.book)
    before = snapshot(memory_ledger)
    with pytest.raises(InvalidRequest, match="escrow moves only through holds"):
        memory_ledger.post(TransferRequest((Posting(ALICE, ESCROW, "COIN", 5),), "HOLD_RETURN",
                                           hold=HoldAction("void", hold.id)))
    assert snapshot(memory_ledger) == before
