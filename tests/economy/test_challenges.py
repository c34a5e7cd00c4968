"""Belt challenges and tournament creation."""

from __future__ import annotations

import pytest

from ledger import ESCROW, InsufficientFunds, InvalidRequest, Ledger, MemoryStore
from ledger.economy.challenges import Challenges, split_entry_fee
from ledger.economy.config import load_config
from ledger.economy.rules import PLATFORM


def _challenges(overrides=None):
    ledger = Ledger(MemoryStore())
    for u in ("alice", "bob"):
        ledger.mint(f"user:{u}", 10_000)
    return Challenges(ledger, load_config(overrides=overrides))


@pytest.mark.parametrize("belt_value, fee", [(0, 50), (499, 50), (1000, 100), (4999, 499), (5000, 500), (10**6, 500)])
def test_the_entry_fee_is_clamped_to_50_500_by_belt_value(belt_value, fee):
    assert _challenges().entry_fee(belt_value) == fee


def test_the_entry_fee_numbers_come_from_the_config():
    c = _challenges({"challenges": {"entry_fee_bps_of_belt_value": 500, "entry_fee_min": 10, "entry_fee_max": 20}})
    assert [c.entry_fee(v) for v in (0, 300, 10_000)] == [10, 15, 20]


def test_the_result_splits_70_20_10(make_economy):
    e = make_economy()
    for u in ("alice", "bob"):
        e.ledger.mint(f"user:{u}", 1000)
    hold = e.challenges.open("c1", "alice", 1000)
    assert e.ledger.balance("user:alice") == 900 and e.ledger.balance(ESCROW) == 100
    e.challenges.settle(hold.id, winner="bob", loser="alice")
    assert e.ledger.balance("user:bob") == 1070 and e.ledger.balance("user:alice") == 920
    assert e.ledger.balance(PLATFORM) == 10 and e.ledger.balance(ESCROW) == 0
    e.challenges.settle(hold.id, winner="bob", loser="alice")  # a retry changes nothing
    assert e.ledger.balance("user:bob") == 1070


def test_rounding_goes_to_the_platform():
    assert split_entry_fee(55, 7000, 2000) == (38, 11, 6)
    assert sum(split_entry_fee(57, 7000, 2000)) == 57


def test_the_split_comes_from_the_config():
    c = _challenges({"challenges": {"winner_bps": 9000, "loser_bps": 0, "platform_bps": 1000}})
    hold = c.open("c1", "alice", 1000)
    c.settle(hold.id, "alice", "bob")
    assert c.ledger.balance("user:alice") == 10_000 - 100 + 90 and c.ledger.balance("user:bob") == 10_000


def test_cancel_returns_the_fee():
    c = _challenges()
    hold = c.open("c1", "alice", 2000)
    c.cancel(hold.id)
    assert c.ledger.balance("user:alice") == 10_000


def test_the_challenger_must_be_winner_or_loser():
    c = _challenges()
    hold = c.open("c1", "alice", 1000)
    with pytest.raises(InvalidRequest):
        c.settle(hold.id, "bob", "carol")
    assert c.ledger.balance(ESCROW) == 100


def test_a_challenge_without_coins_is_refused():
    c = _challenges()
    c.ledger.transfer("user:alice", "user:bob", 9990)
    with pytest.raises(InsufficientFunds):
        c.open("c1", "alice", 1000)


def test_tournament_creation_costs_the_configured_amount_once():
    c = _challenges({"tournaments": {"creation_cost": 3000}})
    c.create_tournament("t1", "alice")
    c.create_tournament("t1", "alice")
    assert c.ledger.balance("user:alice") == 7000 and c.ledger.balance(PLATFORM) == 3000


def test_opening_the_same_challenge_twice_holds_the_fee_once():
    c = _challenges()
    first = c.open("c1", "alice", 1000)
    again = c.open("c1", "alice", 1000)
    assert first.id == again.id and c.ledger.balance("user:alice") == 9900
