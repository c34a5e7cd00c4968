"""Transfers and multi-posting transactions: amounts, addresses, overdrafts, atomicity
and what each journal row records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import (
    BURN,
    MINT,
    AccountFrozen,
    EntryType,
    InsufficientFunds,
    InvalidRequest,
    LedgerError,
    Posting,
    Transaction,
    TransferRequest,
    UnknownAsset,
)

ALICE, BOB, CAROL = "user:alice", "user:bob", "user:carol"


@pytest.fixture
def funded(ledger):
    """Alice holds 100 COIN and 500 USD minor units; Bob holds 10 COIN."""
    ledger.mint(ALICE, 100)
    ledger.mint(ALICE, 500, "USD")
    ledger.mint(BOB, 10)
    return ledger


def request(*postings: Posting, entry_type: str = EntryType.TRANSFER, **kw) -> TransferRequest:
    return TransferRequest(tuple(postings), entry_type, **kw)


def test_transfer_moves_the_amount_between_the_two_accounts(funded):
    tx = funded.transfer(ALICE, BOB, 30)
    assert isinstance(tx, Transaction)
    assert funded.balance(ALICE) == 70
    assert funded.balance(BOB) == 40
    assert not tx.replayed


def test_transfer_touches_only_the_named_asset(funded):
    funded.transfer(ALICE, BOB, 250, "USD")
    assert funded.balances(ALICE) == {"COIN": 100, "USD": 250}
    assert funded.balances(BOB) == {"COIN": 10, "USD": 250}


def test_transfer_of_the_whole_balance_leaves_zero(funded):
    funded.transfer(BOB, ALICE, 10)
    assert funded.balance(BOB) == 0


@pytest.mark.cases(
    "amount", [0, 1.5, True, -1, -100, 1.0, False, Decimal("1"), "1", None],
    ids=["zero", "float", "bool-true", "minus-one", "minus-hundred", "float-whole", "bool-false",
         "decimal", "string", "none"],
    everywhere=3,
)
def test_transfer_rejects_an_amount_that_is_not_a_positive_int(funded, unchanged, amount):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ALICE, BOB, amount)


def test_transfer_rejects_an_unknown_asset(funded, unchanged):
    with unchanged(), pytest.raises(UnknownAsset) as err:
        funded.transfer(ALICE, BOB, 1, "DOGE")
    assert err.value.details["asset"] == "DOGE"
    assert err.value.code == "unknown_asset"


@pytest.mark.cases("bad", ["alice", "user:a b", "", "User:alice", "user:", ":alice", "user:al\nice", 7], everywhere=2)
def test_transfer_to_a_bad_address_is_rejected(funded, unchanged, bad):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ALICE, bad, 1)


@pytest.mark.cases("bad", ["alice", "User:alice", "user:a b"])
def test_transfer_from_a_bad_address_is_rejected(funded, unchanged, bad):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(bad, BOB, 1)


def test_self_transfer_is_rejected(funded, unchanged):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ALICE, ALICE, 1)


def test_unknown_entry_type_is_rejected(funded, unchanged):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.transfer(ALICE, BOB, 1, entry_type="FREE_MONEY")


def test_request_without_postings_is_rejected(funded, unchanged):
    with unchanged(), pytest.raises(InvalidRequest):
        funded.post(request())


def test_overdraft_raises_insufficient_funds_with_required_and_balance(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds) as err:
        funded.transfer(BOB, ALICE, 11)
    assert err.value.details == {"account": BOB, "asset": "COIN", "required": 11, "balance": 10}
    assert err.value.code == "insufficient_funds"
    assert isinstance(err.value, LedgerError)


def test_paying_from_an_account_that_never_held_anything_is_an_overdraft(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds) as err:
        funded.transfer(CAROL, ALICE, 1)
    assert err.value.details["balance"] == 0
    assert err.value.details["required"] == 1


def test_overdraft_is_per_asset(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds):
        funded.transfer(BOB, ALICE, 1, "USD")


def test_mint_may_go_negative(ledger):
    ledger.mint(ALICE, 1_000_000)
    assert ledger.balance(MINT) == -1_000_000


def test_an_account_opened_with_allow_negative_may_go_negative(ledger):
    ledger.open_account("partner:acme", allow_negative=True)
    ledger.transfer("partner:acme", ALICE, 25)
    assert ledger.balance("partner:acme") == -25
    assert ledger.check().ok


def test_an_account_opened_without_allow_negative_may_not(ledger, unchanged):
    ledger.open_account("partner:acme")
    with unchanged(), pytest.raises(InsufficientFunds):
        ledger.transfer("partner:acme", ALICE, 1)


def test_the_card_processor_account_may_go_negative(ledger):
    ledger.transfer("external:stripe", "revenue:stripe", 499, "USD", EntryType.REVENUE)
    assert ledger.balance("external:stripe", "USD") == -499


def test_burn_account_may_not_go_negative(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds):
        funded.transfer(BURN, ALICE, 1)


def test_journal_row_records_both_sides_before_and_after(funded):
    tx = funded.transfer(ALICE, BOB, 30)
    (e,) = tx.entries
    assert (e.from_account, e.to_account, e.asset, e.amount) == (ALICE, BOB, "COIN", 30)
    assert (e.from_before, e.from_after) == (100, 70)
    assert (e.to_before, e.to_after) == (10, 40)
    assert e.tx_id == tx.id


def test_journal_row_records_type_refs_metadata_note_and_key(funded, clock):
    tx = funded.transfer(
        ALICE, BOB, 5, entry_type=EntryType.VOTE_SPENT, key="vote-1", ref_type="vote",
        ref_id="v42", metadata={"poll": "p1", "choice": 2, "tags": ["a", "b"]}, note="a vote",
    )
    stored = list(funded.store.iter_journal())[-1]
    for e in (tx.entries[0], stored):
        assert e.entry_type == "VOTE_SPENT"
        assert (e.ref_type, e.ref_id) == ("vote", "v42")
        assert e.metadata == {"poll": "p1", "choice": 2, "tags": ["a", "b"]}
        assert e.note == "a vote"
        assert e.idempotency_key == "vote-1"
        assert e.time == clock.now
    assert tx.entry_type == "VOTE_SPENT"
    assert tx.idempotency_key == "vote-1"
    assert stored == tx.entries[0]


def test_transfer_without_extras_journals_none_for_them(funded):
    (e,) = funded.transfer(ALICE, BOB, 1).entries
    assert (e.ref_type, e.ref_id, e.metadata, e.note, e.idempotency_key) == (None,) * 5


def test_journal_ids_increase_with_every_entry(funded):
    ids = [e.id for e in funded.store.iter_journal()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    tx = funded.transfer(ALICE, BOB, 1)
    assert tx.entries[0].id > ids[-1]


def test_every_transaction_gets_its_own_id(funded):
    a = funded.transfer(ALICE, BOB, 1)
    b = funded.transfer(ALICE, BOB, 1)
    assert a.id != b.id


# -- multi-posting transactions -------------------------------------------------


def test_multi_posting_request_applies_every_leg_in_one_transaction(funded):
    tx = funded.post(request(
        Posting(ALICE, BOB, "COIN", 20),
        Posting(ALICE, CAROL, "COIN", 5),
        Posting(ALICE, BOB, "USD", 100),
        entry_type=EntryType.TRADE, ref_type="trade", ref_id="t1",
    ))
    assert len(tx.entries) == 3
    assert {e.tx_id for e in tx.entries} == {tx.id}
    assert [e.id for e in tx.entries] == list(range(tx.entries[0].id, tx.entries[0].id + 3))
    assert funded.balances(ALICE) == {"COIN": 75, "USD": 400}
    assert funded.balances(BOB) == {"COIN": 30, "USD": 100}
    assert funded.balance(CAROL) == 5
    assert all(e.ref_id == "t1" for e in tx.entries)


def test_legs_touching_one_account_chain_their_balances(funded):
    tx = funded.post(request(Posting(ALICE, BOB, "COIN", 60), Posting(ALICE, CAROL, "COIN", 40)))
    first, second = tx.entries
    assert (first.from_before, first.from_after) == (100, 40)
    assert (second.from_before, second.from_after) == (40, 0)


def test_money_received_in_an_earlier_leg_can_be_spent_in_a_later_one(funded):
    funded.post(request(Posting(ALICE, CAROL, "COIN", 50), Posting(CAROL, BOB, "COIN", 50)))
    assert (funded.balance(ALICE), funded.balance(BOB), funded.balance(CAROL)) == (50, 60, 0)


def test_later_legs_that_overdraw_count_the_earlier_ones(funded, unchanged):
    with unchanged(), pytest.raises(InsufficientFunds) as err:
        funded.post(request(Posting(ALICE, BOB, "COIN", 60), Posting(ALICE, CAROL, "COIN", 41)))
    assert err.value.details["required"] == 101
    assert err.value.details["balance"] == 100


@pytest.mark.cases(
    "bad_leg, error",
    [
        (Posting(BOB, CAROL, "COIN", 61), InsufficientFunds),  # 10 + 50 received
        (Posting(BOB, CAROL, "COIN", 0), InvalidRequest),
        (Posting(BOB, CAROL, "COIN", 2.5), InvalidRequest),  # type: ignore[arg-type]
        (Posting(BOB, BOB, "COIN", 1), InvalidRequest),
        (Posting(BOB, CAROL, "DOGE", 1), UnknownAsset),
        (Posting(BOB, "not an address", "COIN", 1), InvalidRequest),
        (Posting(BOB, CAROL, "COIN", 1, "NOPE"), InvalidRequest),
    ],
    ids=["overdraft", "zero", "float", "self", "asset", "address", "leg-type"],
    everywhere=2,
)
def test_a_failing_later_leg_leaves_nothing_applied(funded, unchanged, bad_leg, error):
    with unchanged(), pytest.raises(error):
        funded.post(request(
            Posting(ALICE, BOB, "COIN", 50),
            Posting(ALICE, CAROL, "USD", 10),
            bad_leg,
            idempotency_key="multi-1",
        ))
    assert funded.balance(ALICE) == 100 and funded.balance(CAROL) == 0


def test_a_failing_later_leg_from_a_frozen_account_leaves_nothing_applied(funded, unchanged):
    funded.freeze(BOB)
    with unchanged(), pytest.raises(AccountFrozen):
        funded.post(request(Posting(ALICE, BOB, "COIN", 50), Posting(BOB, CAROL, "COIN", 1)))


def test_per_leg_entry_type_overrides_the_transaction_type(funded):
    tx = funded.post(request(
        Posting(ALICE, BOB, "COIN", 20),
        Posting(ALICE, "system:fees", "COIN", 1, EntryType.FEE),
        entry_type=EntryType.TRADE,
    ))
    assert [e.entry_type for e in tx.entries] == ["TRADE", "FEE"]
    assert tx.entry_type == "TRADE"
    assert [e.entry_type for e in list(funded.store.iter_journal())[-2:]] == ["TRADE", "FEE"]


def test_entry_types_are_the_design_enums(funded):
    for t in (EntryType.SIGNUP_BONUS, "DAILY_LOGIN", EntryType.COIN_PURCHASE):
        (e,) = funded.mint(CAROL, 1, entry_type=t).entries
        assert e.entry_type == str(t)


# -- batches --------------------------------------------------------------------


def test_post_many_applies_each_request_on_its_own(funded):
    results = funded.post_many([
        request(Posting(ALICE, BOB, "COIN", 10)),
        request(Posting(CAROL, BOB, "COIN", 1)),  # Carol has nothing
        request(Posting(ALICE, CAROL, "COIN", 0)),
        request(Posting(BOB, CAROL, "COIN", 20)),  # Bob has 20 after the first one
        request(Posting(ALICE, "nowhere", "COIN", 1)),
    ])
    assert isinstance(results[0], Transaction)
    assert isinstance(results[1], InsufficientFunds)
    assert isinstance(results[2], InvalidRequest)
    assert isinstance(results[3], Transaction)
    assert isinstance(results[4], InvalidRequest)
    assert (funded.balance(ALICE), funded.balance(BOB), funded.balance(CAROL)) == (90, 0, 20)
    assert funded.check().ok


def test_post_many_of_nothing_returns_nothing(funded, unchanged):
    with unchanged():
        assert funded.post_many([]) == []
