"""`check`: clean on an honest ledger, and it finds every kind of damage done to the
in-memory store's Book behind the engine's back. (The SQL tamper test is in
test_sql*.py.)"""

from __future__ import annotations

import pytest

from ledger import BURN, ESCROW, MINT, HoldStatus, Posting, check_store

ALICE, BOB = "user:alice", "user:bob"


def activity(ledger) -> None:
    """A bit of everything: grants, transfers, a multi-leg trade, burns, holds."""
    ledger.mint(ALICE, 100)
    ledger.mint(BOB, 40)
    ledger.mint(ALICE, 999, "USD")
    ledger.transfer(ALICE, BOB, 25)
    ledger.burn(BOB, 5)
    a = ledger.lock(ALICE, 30)
    ledger.capture(a.id, [Posting(ESCROW, BOB, "COIN", 10)])
    b = ledger.lock(BOB, 20)
    ledger.release(b.id, ALICE, 5)
    c = ledger.lock(ALICE, 300, "USD")
    ledger.forfeit(c.id)
    ledger.lock(ALICE, 10)


def test_check_of_a_fresh_ledger_is_clean(ledger):
    report = ledger.check()
    assert report.ok
    assert report.problems == ()
    assert report.entries == 0


def test_check_after_activity_is_clean(ledger):
    activity(ledger)
    report = ledger.check()
    assert report.ok, report.problems
    assert report.entries == sum(1 for _ in ledger.store.iter_journal())
    assert report.accounts == len({acct for acct, _asset, _bal in ledger.store.stored_balances()})


def test_check_store_is_what_ledger_check_runs(ledger):
    activity(ledger)
    assert check_store(ledger.store) == ledger.check()


# -- tampering with the in-memory Book --------------------------------------------


@pytest.fixture
def book(memory_ledger):
    activity(memory_ledger)
    assert memory_ledger.check().ok
    return memory_ledger.store.book


def problems(memory_ledger) -> str:
    report = memory_ledger.check()
    assert not report.ok
    return "\n".join(report.problems)


def test_check_finds_a_balance_changed_directly(memory_ledger, book):
    book.balances[(ALICE, "COIN")] += 1
    text = problems(memory_ledger)
    assert f"balance {ALICE} COIN: stored" in text
    assert "asset COIN: balances sum to 1" in text


def test_check_finds_money_moved_between_balances_without_a_journal_row(memory_ledger, book):
    book.balances[(ALICE, "COIN")] -= 7
    book.balances[(BOB, "COIN")] += 7
    text = problems(memory_ledger)
    assert ALICE in text and BOB in text
    assert "sum to" not in text  # the sum is still zero: only the replay catches it


def test_check_finds_a_balance_created_from_nothing(memory_ledger, book):
    book.balances[("user:mallory", "COIN")] = 50
    assert "user:mallory" in problems(memory_ledger)


def test_check_finds_an_entry_whose_amount_was_altered(memory_ledger, book):
    e = book.journal[3]
    book.journal[3] = e._replace(amount=e.amount + 1)
    assert f"entry {e.id}" in problems(memory_ledger)


def test_check_finds_an_entry_whose_amount_and_after_were_altered_together(memory_ledger, book):
    e = book.journal[3]
    book.journal[3] = e._replace(amount=e.amount + 1, from_after=e.from_after - 1, to_after=e.to_after + 1)
    assert memory_ledger.check().problems


def test_check_finds_an_entry_whose_before_was_altered(memory_ledger, book):
    e = book.journal[-1]
    book.journal[-1] = e._replace(from_before=e.from_before + 1, from_after=e.from_after + 1)
    assert f"entry {e.id}" in problems(memory_ledger)


def test_check_finds_a_deleted_entry(memory_ledger, book):
    del book.journal[4]
    assert memory_ledger.check().problems


def test_check_finds_a_non_positive_entry(memory_ledger, book):
    e = book.journal[0]
    book.journal[0] = e._replace(amount=-e.amount, from_after=e.from_before + e.amount,
                                 to_after=e.to_before - e.amount)
    assert "non-positive amount" in problems(memory_ledger)


def test_check_finds_a_negative_balance_where_none_is_allowed(memory_ledger, book):
    # The journal and balances still agree: only the sign rule can catch this.
    memory_ledger.store.book.negative_ok.discard(MINT)
    assert "is negative" in problems(memory_ledger)


def test_check_finds_escrow_that_does_not_match_the_locked_holds(memory_ledger, book):
    book.balances[(ESCROW, "COIN")] -= 1
    book.balances[(BURN, "COIN")] += 1
    assert "escrow COIN" in problems(memory_ledger)


def test_check_finds_a_hold_whose_amount_was_changed(memory_ledger, book):
    hold_id, hold = next((k, h) for k, h in book.holds.items() if h.status == HoldStatus.LOCKED)
    book.holds[hold_id] = hold._replace(amount=hold.amount + 1)
    assert "escrow COIN" in problems(memory_ledger)


def test_check_finds_a_locked_hold_marked_settled(memory_ledger, book):
    hold_id, hold = next((k, h) for k, h in book.holds.items() if h.status == HoldStatus.LOCKED)
    book.holds[hold_id] = hold._replace(status=HoldStatus.RELEASED)
    assert "escrow COIN" in problems(memory_ledger)


def test_check_finds_a_settled_hold_marked_locked_again(memory_ledger, book):
    hold_id, hold = next((k, h) for k, h in book.holds.items() if h.status == HoldStatus.FORFEITED)
    book.holds[hold_id] = hold._replace(status=HoldStatus.LOCKED)
    assert "escrow USD" in problems(memory_ledger)


def test_check_finds_a_hold_with_a_non_positive_amount(memory_ledger, book):
    hold_id, hold = next((k, h) for k, h in book.holds.items() if h.status != HoldStatus.LOCKED)
    book.holds[hold_id] = hold._replace(amount=0)
    assert "non-positive amount" in problems(memory_ledger)


def test_check_stops_listing_after_max_problems(memory_ledger, book):
    for n in range(30):
        book.balances[(f"user:ghost{n}", "COIN")] = 1
    report = check_store(memory_ledger.store, max_problems=5)
    assert len(report.problems) == 5
    assert not report.ok
