"""Earn and spend rules: amounts from the config, "once" enforced by ledger keys."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from ledger import BURN, EntryType, InsufficientFunds, InvalidRequest
from ledger.economy.errors import NotEligible
from ledger.economy.rules import PLATFORM

ALICE = "user:alice"


@pytest.mark.parametrize("rule, field, call", [
    ("rewards", "guest_initial", lambda e: e.rules.guest_initial("alice")),
    ("rewards", "signup", lambda e: e.rules.signup_bonus("alice")),
    ("rewards", "newsletter", lambda e: e.rules.newsletter_bonus("alice")),
    ("rewards", "daily_login", lambda e: e.rules.daily_login("alice")),
])
def test_each_reward_pays_the_configured_amount(make_mem_economy, rule, field, call):
    default = make_mem_economy()
    call(default)
    changed = make_mem_economy({rule: {field: 37}})
    call(changed)
    assert default.ledger.balance(ALICE) == getattr(default.config.rewards, field)
    assert changed.ledger.balance(ALICE) == 37


@pytest.mark.parametrize("field, call", [
    ("vote", lambda e: e.rules.vote("alice", "claim1")),
    ("deep_analysis_unlock", lambda e: e.rules.unlock_deep_analysis("alice", "claim1")),
])
def test_each_spend_costs_the_configured_amount(make_mem_economy, field, call):
    for overrides, cost in ((None, {"vote": 1, "deep_analysis_unlock": 5}[field]), ({"spend": {field: 7}}, 7)):
        e = make_mem_economy(overrides)
        e.ledger.mint(ALICE, 100)
        call(e)
        assert e.ledger.balance(ALICE) == 100 - cost
        assert e.ledger.balance(PLATFORM) == cost


def test_one_time_rewards_pay_once(make_economy):
    e = make_economy()
    for _ in range(3):
        e.rules.signup_bonus("alice")
        e.rules.newsletter_bonus("alice")
        e.rules.guest_initial("alice")
    assert e.ledger.balance(ALICE) == 5 + 5 + 4


def test_a_repeated_signup_returns_the_first_transaction(make_mem_economy):
    e = make_mem_economy()
    first = e.rules.signup_bonus("alice")
    again = e.rules.signup_bonus("alice")
    assert again.id == first.id and again.replayed


def test_daily_login_pays_once_per_utc_day(make_mem_economy, clock):
    e = make_mem_economy(clock=clock)
    clock.now = datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)
    e.rules.daily_login("alice")
    clock.now = datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC)
    e.rules.daily_login("alice")
    assert e.ledger.balance(ALICE) == 2
    clock.advance(seconds=2)
    e.rules.daily_login("alice")
    assert e.ledger.balance(ALICE) == 4


def test_daily_login_takes_an_explicit_time(make_mem_economy):
    e = make_mem_economy()
    for day in (1, 1, 2):
        e.rules.daily_login("alice", now=datetime(2026, 5, day, 9, tzinfo=UTC))
    assert e.ledger.balance(ALICE) == 4


def test_a_seven_day_streak_pays_the_bonus_on_day_seven_and_fourteen(make_mem_economy, clock):
    e = make_mem_economy(clock=clock)
    bonus_days = []
    for day in range(1, 15):
        result = e.rules.daily_login("alice")
        if result.streak is not None:
            bonus_days.append(day)
        clock.advance(days=1)
    assert bonus_days == [7, 14]
    assert e.ledger.balance(ALICE) == 14 * 2 + 2 * 10


def test_a_missed_day_restarts_the_streak(make_mem_economy, clock):
    e = make_mem_economy({"rewards": {"streak_days": 3, "streak_bonus": 50}}, clock=clock)
    paid = []
    for day in (1, 2, 4, 5, 6):
        clock.now = datetime(2026, 3, day, 8, tzinfo=UTC)
        paid.append(e.rules.daily_login("alice").streak is not None)
    assert paid == [False, False, False, False, True]
    assert [h.amount for h in e.ledger.history(ALICE, entry_type=EntryType.STREAK_BONUS)] == [50]


def test_phase2_daily_bonus_needs_a_stake_that_day(make_mem_economy, clock):
    e = make_mem_economy({"phase2": {"daily_bonus_requires_stake": True}}, clock=clock)
    e.ledger.mint(ALICE, 10)
    with pytest.raises(NotEligible):
        e.rules.daily_login("alice")
    assert e.ledger.balance(ALICE) == 10
    e.pools.create("p1", "Will it rain?", ["yes", "no"])
    e.pools.stake("p1", "alice", "yes", 3)
    e.rules.daily_login("alice")
    assert e.ledger.balance(ALICE) == 10 - 3 + 2
    clock.advance(days=1)
    with pytest.raises(NotEligible):
        e.rules.daily_login("alice")


def test_a_vote_goes_to_the_platform_or_is_burned(make_mem_economy):
    kept, burned = make_mem_economy(), make_mem_economy({"spend": {"burn": True}})
    for e in (kept, burned):
        e.ledger.mint(ALICE, 5)
        e.rules.vote("alice", "c1")
    assert kept.ledger.balance(PLATFORM) == 1 and kept.ledger.balance(BURN) == 0
    assert burned.ledger.balance(BURN) == 1 and burned.ledger.balance(PLATFORM) == 0


def test_a_vote_request_is_what_a_vote_posts_and_none_when_votes_are_free(make_mem_economy):
    e = make_mem_economy()
    e.ledger.mint(ALICE, 5)
    request = e.rules.vote_request("alice", "c1")
    assert request is not None and request.idempotency_key == "vote:alice:c1"
    posted = e.ledger.post(request)
    assert e.rules.vote("alice", "c1") == posted._replace(replayed=True)  # the same vote: a replay
    assert e.ledger.balance(ALICE) == 4
    assert make_mem_economy({"spend": {"vote": 0}}).rules.vote_request("alice", "c1") is None


def test_deep_analysis_is_paid_once_per_claim(make_economy):
    e = make_economy()
    e.ledger.mint(ALICE, 20)
    e.rules.unlock_deep_analysis("alice", "c1")
    e.rules.unlock_deep_analysis("alice", "c1")
    e.rules.unlock_deep_analysis("alice", "c2")
    assert e.ledger.balance(ALICE) == 10


def test_a_spend_without_coins_fails_and_changes_nothing(make_mem_economy):
    e = make_mem_economy()
    e.ledger.mint(ALICE, 4)
    with pytest.raises(InsufficientFunds):
        e.rules.unlock_deep_analysis("alice", "c1")
    assert e.ledger.balance(ALICE) == 4 and e.ledger.balance(PLATFORM) == 0


def test_admin_grant_credits_and_debits(make_mem_economy):
    e = make_mem_economy()
    e.rules.admin_grant("alice", 50, admin="root", reason="contest prize")
    e.rules.admin_grant("alice", -20, admin="root", reason="correction")
    assert e.ledger.balance(ALICE) == 30
    with pytest.raises(InvalidRequest):
        e.rules.admin_grant("alice", 0, admin="root")


def test_a_reward_set_to_zero_pays_nothing(make_mem_economy):
    e = make_mem_economy({"rewards": {"newsletter": 0}})
    assert e.rules.newsletter_bonus("alice") is None
    assert e.ledger.balance(ALICE) == 0


def test_concurrent_duplicate_claims_credit_once(make_sql_economy):
    e = make_sql_economy()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: (e.rules.daily_login("alice"), e.rules.signup_bonus("alice")), range(16)))
    assert e.ledger.balance(ALICE) == 2 + 5
    assert e.ledger.check().problems == ()


@pytest.mark.parametrize("make_sql_economy", ["sqlite"], indirect=True)
def test_the_daily_login_in_parts_pays_what_the_daily_login_pays(make_mem_economy, make_sql_economy, clock):
    """The service's path (request, probe of the previous days' keys, bonus) against
    `daily_login`, over gaps, replays and two whole streaks."""
    config = {"rewards": {"streak_days": 3, "streak_bonus": 50}}
    whole, parts = make_mem_economy(config, clock=clock), make_sql_economy(config, clock=clock)
    store = parts.ledger.store
    days, due_days = (1, 2, 3, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14), []
    for day in days:
        clock.now = datetime(2026, 3, day, 8, tzinfo=UTC)
        expected = whole.rules.daily_login("alice")
        rules, today = parts.rules, clock.now.date()
        login = parts.ledger.post(rules.daily_login_request("alice", today))
        probed = rules.streak_keys("alice", today)
        length, due = rules.streak_from_keys(today, True, probed, store.existing_keys(probed))
        streak = parts.ledger.post(rules.streak_bonus_request("alice", today)) if due else None
        assert (login.replayed, length, streak is not None) == (
            expected.login.replayed, expected.streak_length, expected.streak is not None), day
        if due:
            due_days.append(day)
    assert due_days == [3, 3, 6, 10, 13]  # the second login of day 3 replays its bonus
    assert parts.ledger.balance(ALICE) == whole.ledger.balance(ALICE) == 13 * 2 + 4 * 50
