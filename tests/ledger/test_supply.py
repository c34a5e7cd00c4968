"""Issuance: mint and burn accounts and the issued / burned / circulating figures."""

from __future__ import annotations

import pytest

from ledger import BURN, MINT, EntryType, InsufficientFunds, Supply

ALICE, BOB = "user:alice", "user:bob"


def test_a_fresh_ledger_has_issued_nothing(ledger):
    s = ledger.supply()
    assert (s.issued, s.burned, s.circulating) == (0, 0, 0)
    assert s == Supply("COIN", 0, 0)


def test_mint_issues_new_units(ledger):
    ledger.mint(ALICE, 70)
    ledger.mint(BOB, 30)
    s = ledger.supply()
    assert (s.issued, s.burned, s.circulating) == (100, 0, 100)


def test_mint_moves_from_the_mint_account_with_admin_grant_by_default(ledger):
    (e,) = ledger.mint(ALICE, 5).entries
    assert (e.from_account, e.to_account, e.entry_type) == (MINT, ALICE, "ADMIN_GRANT")


def test_burn_destroys_units(ledger):
    ledger.mint(ALICE, 100)
    (e,) = ledger.burn(ALICE, 40).entries
    assert (e.from_account, e.to_account, e.entry_type) == (ALICE, BURN, "REDEEM_BURN")
    s = ledger.supply()
    assert (s.issued, s.burned, s.circulating) == (100, 40, 60)


def test_issued_is_minus_the_mint_balance_and_burned_is_the_burn_balance(ledger):
    ledger.mint(ALICE, 100)
    ledger.burn(ALICE, 25, entry_type=EntryType.HOUSE_FEE_BURN)
    s = ledger.supply()
    assert s.issued == -ledger.balance(MINT)
    assert s.burned == ledger.balance(BURN)


def test_circulating_equals_what_users_hold(ledger):
    ledger.mint(ALICE, 100)
    ledger.mint(BOB, 50)
    ledger.burn(BOB, 20)
    ledger.transfer(ALICE, BOB, 33)
    ledger.lock(ALICE, 7)
    held = ledger.balance(ALICE) + ledger.balance(BOB) + ledger.held(ALICE)
    assert ledger.supply().circulating == held == 130


def test_transfers_do_not_change_supply(ledger):
    ledger.mint(ALICE, 100)
    before = ledger.supply()
    ledger.transfer(ALICE, BOB, 60)
    ledger.transfer(BOB, ALICE, 10)
    assert ledger.supply() == before


def test_supply_is_per_asset(ledger):
    ledger.mint(ALICE, 100)
    ledger.mint(ALICE, 999, "USD")
    ledger.burn(ALICE, 99, "USD")
    assert ledger.supply("COIN") == Supply("COIN", 100, 0)
    assert ledger.supply("USD") == Supply("USD", 999, 99)


def test_burning_more_than_the_balance_is_refused(ledger, unchanged):
    ledger.mint(ALICE, 10)
    with unchanged(), pytest.raises(InsufficientFunds):
        ledger.burn(ALICE, 11)
    assert ledger.supply().burned == 0


def test_forfeited_hold_counts_as_burned(ledger):
    ledger.mint(ALICE, 10)
    hold = ledger.lock(ALICE, 4)
    ledger.forfeit(hold.id)
    assert ledger.supply() == Supply("COIN", 10, 4)
    assert ledger.supply().circulating == 6
