"""A refund clawback: the one request that may debit a frozen account, atomically, and
only back into the mint or the burn account."""

from __future__ import annotations

import pytest

from ledger import (
    BURN,
    MINT,
    AccountFrozen,
    EntryType,
    HoldAction,
    IdempotencyConflict,
    InvalidRequest,
    Posting,
    TransferRequest,
)

ALICE, BOB = "user:alice", "user:bob"
REFUND = EntryType.COIN_PURCHASE_REFUND


@pytest.fixture
def frozen(ledger):
    """Alice holds 100 COIN and is frozen (a disputed payment)."""
    ledger.mint(ALICE, 100)
    ledger.freeze(ALICE)
    return ledger


def clawback(*postings: Posting, entry_type: str = REFUND, **kw) -> TransferRequest:
    return TransferRequest(tuple(postings), entry_type, clawback=True, **kw)


def test_a_clawback_takes_coins_from_a_frozen_account_and_it_stays_frozen(frozen):
    tx = frozen.post(clawback(Posting(ALICE, MINT, "COIN", 30), Posting(MINT, "platform:revenue", "USD", 5)))
    assert [(e.from_account, e.amount) for e in tx.entries] == [(ALICE, 30), (MINT, 5)]
    assert frozen.balance(ALICE) == 70
    assert frozen.store.is_frozen(ALICE)
    assert frozen.check().ok


def test_a_clawback_may_burn_what_it_takes(frozen):
    frozen.post(clawback(Posting(ALICE, BURN, "COIN", 10)))
    assert frozen.balance(BURN) == 10


def test_a_frozen_account_still_cannot_send_to_a_user(frozen, unchanged):
    with unchanged(), pytest.raises(AccountFrozen):
        frozen.transfer(ALICE, BOB, 1)


def test_a_clawback_cannot_pay_a_frozen_account_out_to_a_user(frozen, unchanged):
    with unchanged(), pytest.raises(AccountFrozen):
        frozen.post(clawback(Posting(ALICE, BOB, "COIN", 1)))


def test_a_clawback_with_a_leg_to_a_user_is_refused_whole(frozen, unchanged):
    with unchanged(), pytest.raises(AccountFrozen):
        frozen.post(clawback(Posting(ALICE, MINT, "COIN", 5), Posting(ALICE, BOB, "COIN", 1)))


@pytest.mark.cases("entry_type", [EntryType.TRANSFER, EntryType.ADMIN_GRANT, EntryType.REDEEM_BURN],
                   ids=["transfer", "grant", "redeem"])
def test_only_a_refund_may_be_a_clawback(frozen, unchanged, entry_type):
    with unchanged(), pytest.raises(InvalidRequest, match="clawback"):
        frozen.post(clawback(Posting(ALICE, MINT, "COIN", 5), entry_type=entry_type))


def test_a_clawback_cannot_settle_a_hold(ledger, unchanged):
    ledger.mint(ALICE, 10)
    hold = ledger.lock(ALICE, 4)
    ledger.freeze(ALICE)
    req = clawback(Posting("system:escrow", MINT, "COIN", 4),
                   hold=HoldAction("forfeit", hold.id))
    with unchanged(), pytest.raises(InvalidRequest, match="clawback"):
        ledger.post(req)


def test_the_flag_must_be_a_bool(frozen, unchanged):
    with unchanged(), pytest.raises(InvalidRequest, match="clawback"):
        frozen.post(TransferRequest((Posting(ALICE, MINT, "COIN", 1),), REFUND, clawback=1))  # type: ignore[arg-type]


def test_a_key_used_by_a_clawback_conflicts_with_the_same_request_without_the_flag(frozen):
    leg = Posting(ALICE, MINT, "COIN", 5)
    frozen.post(clawback(leg, idempotency_key="refund:1"))
    assert frozen.post(clawback(leg, idempotency_key="refund:1")).replayed
    frozen.freeze(ALICE, False)
    with pytest.raises(IdempotencyConflict):
        frozen.post(TransferRequest((leg,), REFUND, "refund:1"))
    assert frozen.balance(ALICE) == 95
