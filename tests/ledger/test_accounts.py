"""Accounts and assets: addresses, opening, freezing, balances, asset registration."""

from __future__ import annotations

import pytest

from ledger import (
    BURN,
    ESCROW,
    MINT,
    AccountFrozen,
    Asset,
    InvalidRequest,
    Posting,
    TransferRequest,
    user_account,
)

ALICE, BOB = "user:alice", "user:bob"


def test_user_account_is_the_user_address():
    assert user_account("42") == "user:42"


def test_system_accounts_have_fixed_addresses():
    assert (MINT, BURN, ESCROW) == ("system:mint", "system:burn", "system:escrow")


def test_a_new_ledger_has_coin_and_usd_with_their_scales(ledger):
    assets = ledger.store.assets()
    assert assets["COIN"].scale == 0
    assert assets["USD"].scale == 2


def test_created_asset_can_be_minted_and_moved(ledger):
    asset = ledger.create_asset("HEATHER", 0, "Heather's coin")
    assert asset == Asset("HEATHER", 0, "Heather's coin")
    ledger.mint(ALICE, 1000, "HEATHER")
    ledger.transfer(ALICE, BOB, 10, "HEATHER")
    assert ledger.balances(BOB) == {"HEATHER": 10}


def test_registering_an_asset_again_keeps_the_first(ledger):
    ledger.create_asset("GEM", 2)
    assert ledger.create_asset("GEM", 4) == Asset("GEM", 2, "")


@pytest.mark.cases("code", ["", "gem", "GE M", "GEM!", "G" * 17])
def test_asset_code_must_be_short_upper_alphanumeric(ledger, unchanged, code):
    with unchanged(), pytest.raises(InvalidRequest):
        ledger.create_asset(code)
    assert code not in ledger.store.assets()


@pytest.mark.cases("scale", [-1, 9, 2.0, True])
def test_asset_scale_must_be_an_int_from_0_to_8(ledger, scale):
    with pytest.raises(InvalidRequest):
        ledger.create_asset("GEM", scale)
    assert "GEM" not in ledger.store.assets()


@pytest.mark.cases("bad", ["alice", "User:alice", "user:", "user:a b"])
def test_open_account_rejects_a_bad_address(ledger, unchanged, bad):
    with unchanged(), pytest.raises(InvalidRequest):
        ledger.open_account(bad)


def test_opening_an_account_creates_no_balance(ledger):
    ledger.open_account("shop:main")
    assert ledger.balance("shop:main") == 0
    assert ledger.balances("shop:main") == {}


def test_accounts_are_created_on_first_credit(ledger):
    ledger.mint("user:new_here", 3)
    assert ledger.balance("user:new_here") == 3


def test_balance_of_an_unknown_account_is_zero(ledger):
    assert ledger.balance("user:nobody") == 0
    assert ledger.balance("user:nobody", "USD") == 0


def test_balances_lists_every_asset_of_the_account(ledger):
    ledger.mint(ALICE, 5)
    ledger.mint(ALICE, 250, "USD")
    assert ledger.balances(ALICE) == {"COIN": 5, "USD": 250}


def test_frozen_account_cannot_pay(ledger, unchanged):
    ledger.mint(ALICE, 50)
    ledger.freeze(ALICE)
    with unchanged(), pytest.raises(AccountFrozen) as err:
        ledger.transfer(ALICE, BOB, 1)
    assert err.value.details == {"account": ALICE}
    assert err.value.code == "account_frozen"


def test_frozen_account_can_still_receive(ledger):
    ledger.freeze(ALICE)
    ledger.mint(ALICE, 50)
    assert ledger.balance(ALICE) == 50


def test_frozen_account_cannot_burn_or_lock(ledger, unchanged):
    ledger.mint(ALICE, 50)
    ledger.freeze(ALICE)
    with unchanged():
        with pytest.raises(AccountFrozen):
            ledger.burn(ALICE, 1)
        with pytest.raises(AccountFrozen):
            ledger.lock(ALICE, 1)


def test_frozen_account_cannot_pay_inside_a_multi_posting_request(ledger, unchanged):
    ledger.mint(ALICE, 50)
    ledger.freeze(BOB)
    with unchanged(), pytest.raises(AccountFrozen):
        ledger.post(TransferRequest((Posting(ALICE, BOB, "COIN", 5), Posting(BOB, ALICE, "COIN", 5)), "TRANSFER"))


def test_unfrozen_account_can_pay_again(ledger):
    ledger.mint(ALICE, 50)
    ledger.freeze(ALICE)
    ledger.freeze(ALICE, False)
    ledger.transfer(ALICE, BOB, 20)
    assert ledger.balance(BOB) == 20


@pytest.mark.cases("bad", ["alice", "User:alice"])
def test_freeze_rejects_a_bad_address(ledger, unchanged, bad):
    with unchanged(), pytest.raises(InvalidRequest):
        ledger.freeze(bad)


def test_freeze_is_reported_by_the_store(ledger):
    ledger.freeze(ALICE)
    assert ledger.store.is_frozen(ALICE)
    assert not ledger.store.is_frozen(BOB)
    ledger.freeze(ALICE, False)
    assert not ledger.store.is_frozen(ALICE)


def test_freezing_one_account_does_not_stop_others(ledger):
    ledger.mint(ALICE, 50)
    ledger.freeze(BOB)
    ledger.transfer(ALICE, BOB, 5)
    assert ledger.balance(BOB) == 5
