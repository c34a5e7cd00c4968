"""Per-account history: the seeds' CreditEvent view of the journal (signed amounts,
balance before/after as the account saw it, counterparty), newest first, filtered and
paged."""

from __future__ import annotations

import pytest

from ledger import ESCROW, MINT, EntryType, HistoryItem, InvalidRequest, Posting, TransferRequest

ALICE, BOB, CAROL = "user:alice", "user:bob", "user:carol"


@pytest.fixture
def busy(ledger, clock):
    """Alice: +100 grant, -30 to Bob, +5 vote refund from Bob, +50 USD, -2 burn."""
    ledger.mint(ALICE, 100, entry_type=EntryType.SIGNUP_BONUS, note="welcome")
    clock.advance(seconds=1)
    ledger.transfer(ALICE, BOB, 30, entry_type=EntryType.VOTE_SPENT, ref_type="vote", ref_id="v1",
                    metadata={"poll": 3})
    clock.advance(seconds=1)
    ledger.transfer(BOB, ALICE, 5)
    clock.advance(seconds=1)
    ledger.mint(ALICE, 50, "USD", entry_type=EntryType.COIN_PURCHASE)
    clock.advance(seconds=1)
    ledger.burn(ALICE, 2)
    ledger.mint(CAROL, 1000)  # someone else's activity
    return ledger


def test_history_is_newest_first(busy):
    items = busy.history(ALICE)
    assert [i.entry_type for i in items] == [
        "REDEEM_BURN", "COIN_PURCHASE", "TRANSFER", "VOTE_SPENT", "SIGNUP_BONUS"]
    assert [i.entry_id for i in items] == sorted((i.entry_id for i in items), reverse=True)
    assert all(isinstance(i, HistoryItem) for i in items)


def test_history_amounts_are_signed_from_the_accounts_view(busy):
    assert [i.amount for i in busy.history(ALICE)] == [-2, 50, 5, -30, 100]
    assert [i.amount for i in busy.history(BOB)] == [-5, 30]


def test_history_balances_are_the_accounts_own_before_and_after(busy):
    coin = [i for i in busy.history(ALICE) if i.asset == "COIN"]
    assert [(i.balance_before, i.balance_after) for i in coin] == [(75, 73), (70, 75), (100, 70), (0, 100)]
    (usd,) = [i for i in busy.history(ALICE) if i.asset == "USD"]
    assert (usd.balance_before, usd.balance_after) == (0, 50)
    assert [(i.balance_before, i.balance_after) for i in busy.history(BOB)] == [(30, 25), (0, 30)]


def test_history_balance_after_is_before_plus_the_signed_amount(busy):
    for account in (ALICE, BOB, CAROL, MINT):
        for i in busy.history(account):
            assert i.balance_after == i.balance_before + i.amount


def test_history_names_the_counterparty(busy):
    assert [i.counterparty for i in busy.history(ALICE)] == [
        "system:burn", MINT, BOB, BOB, MINT]
    assert [i.counterparty for i in busy.history(BOB)] == [ALICE, ALICE]


def test_history_carries_refs_metadata_note_and_time(busy, clock):
    oldest = busy.history(ALICE)[-1]
    assert oldest.note == "welcome"
    vote = busy.history(ALICE)[-2]
    assert (vote.ref_type, vote.ref_id, vote.metadata) == ("vote", "v1", {"poll": 3})
    assert busy.history(ALICE)[0].time == clock.now


def test_history_matches_the_journal_row(busy):
    item = busy.history(BOB)[0]
    (entry,) = [e for e in busy.store.iter_journal() if e.id == item.entry_id]
    assert item.tx_id == entry.tx_id
    assert (item.asset, -item.amount) == (entry.asset, entry.amount)


def test_history_excludes_other_accounts(busy):
    rows = {e.id: e for e in busy.store.iter_journal()}
    ids = [i.entry_id for i in busy.history(ALICE)]
    assert ids == sorted((k for k, e in rows.items() if ALICE in (e.from_account, e.to_account)), reverse=True)
    assert [i.amount for i in busy.history(CAROL)] == [1000]
    assert busy.history("user:nobody") == []


def test_history_filters_by_entry_type(busy):
    items = busy.history(ALICE, entry_type=EntryType.VOTE_SPENT)
    assert [(i.entry_type, i.amount) for i in items] == [("VOTE_SPENT", -30)]
    assert busy.history(ALICE, entry_type=EntryType.DAILY_LOGIN) == []


def test_history_filters_by_asset(busy):
    assert [i.amount for i in busy.history(ALICE, asset="USD")] == [50]


def test_history_pages_with_limit_and_offset(busy):
    everything = busy.history(ALICE)
    pages = [busy.history(ALICE, limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [i for p in pages for i in p] == everything


def test_history_limit_zero_is_empty(busy):
    assert busy.history(ALICE, limit=0) == []


def test_history_pages_after_a_type_filter(busy, ledger):
    for n in range(1, 6):
        ledger.mint(ALICE, n, entry_type=EntryType.DAILY_LOGIN)
    page = busy.history(ALICE, entry_type=EntryType.DAILY_LOGIN, limit=2, offset=1)
    assert [i.amount for i in page] == [4, 3]


def test_history_default_limit_is_fifty(ledger):
    for _ in range(55):
        ledger.mint(ALICE, 1)
    assert len(ledger.history(ALICE)) == 50


@pytest.mark.parametrize("kw", [{"limit": -1}, {"offset": -1}])
def test_history_rejects_negative_paging(busy, kw):
    with pytest.raises(InvalidRequest):
        busy.history(ALICE, **kw)


def test_history_of_a_multi_leg_transaction_shows_each_leg(ledger):
    ledger.mint(ALICE, 100)
    ledger.post(TransferRequest(
        (Posting(ALICE, BOB, "COIN", 20), Posting(ALICE, "system:fees", "COIN", 1, EntryType.FEE)),
        EntryType.TRADE,
    ))
    fee, trade = ledger.history(ALICE)[:2]
    assert (fee.entry_type, fee.amount, fee.balance_before, fee.balance_after) == ("FEE", -1, 80, 79)
    assert (trade.entry_type, trade.amount, trade.balance_before, trade.balance_after) == ("TRADE", -20, 100, 80)
    assert fee.tx_id == trade.tx_id


def test_history_shows_holds_as_moves_to_and_from_escrow(ledger):
    ledger.mint(ALICE, 100)
    hold = ledger.lock(ALICE, 40)
    ledger.release(hold.id, BOB, 25)
    back, lock = ledger.history(ALICE)[:2]
    assert (lock.entry_type, lock.amount, lock.counterparty, lock.balance_after) == ("HOLD_LOCK", -40, ESCROW, 60)
    assert (back.entry_type, back.amount, back.counterparty, back.balance_after) == ("HOLD_RETURN", 15, ESCROW, 75)
    (paid,) = ledger.history(BOB)
    assert (paid.entry_type, paid.amount, paid.counterparty) == ("HOLD_RELEASE", 25, ESCROW)
