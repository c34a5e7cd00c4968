"""Anti-sybil defenses in the economy rules: recurring rewards gated by account age and
real activity, and a cap on the rewarded accounts of one cluster; each off at 0."""

from __future__ import annotations

import pytest

from ledger.economy.errors import NotEligible

ALICE = "user:alice"


def test_every_defense_is_off_by_default(make_mem_economy):
    e = make_mem_economy()
    assert not e.config.antisybil.active and not e.rules.reads_facts
    e.rules.guest_initial("alice")
    assert e.rules.daily_login("alice").login is not None


def test_the_daily_bonus_waits_until_the_account_is_old_enough(make_mem_economy, clock):
    e = make_mem_economy({"antisybil": {"min_account_age_days": 3}}, clock=clock)
    assert e.rules.reads_facts
    e.rules.guest_initial("alice")
    clock.advance(days=2, hours=23)
    with pytest.raises(NotEligible, match="days old"):
        e.rules.daily_login("alice")
    clock.advance(hours=1)
    assert e.rules.daily_login("alice").login.entries[0].amount == e.config.rewards.daily_login


def test_an_account_with_no_reward_yet_has_no_age(make_mem_economy):
    e = make_mem_economy({"antisybil": {"min_account_age_days": 1}})
    with pytest.raises(NotEligible):
        e.rules.daily_login("bob")


def test_the_daily_bonus_waits_for_real_activity(make_mem_economy):
    e = make_mem_economy({"antisybil": {"min_activity": 2}})
    e.ledger.mint(ALICE, 50)
    e.rules.vote("alice", "c1")
    with pytest.raises(NotEligible, match="1 real actions"):
        e.rules.daily_login("alice")
    e.rules.unlock_deep_analysis("alice", "c1")
    assert e.rules.daily_login("alice").login is not None
    assert e.rules.activity("alice", 10) == 2


def test_only_the_first_accounts_of_a_cluster_earn_rewards(make_mem_economy):
    e = make_mem_economy({"antisybil": {"cluster_cap": 2}})
    for i in range(4):
        assert e.rules.tag_cluster(f"s{i}", "device-1") == i
    e.rules.tag_cluster("s0", "device-2")  # an account stays in its first cluster
    assert e.rules.cluster_of["s0"] == "device-1"
    for i in range(2):
        e.rules.signup_bonus(f"s{i}")
        e.rules.daily_login(f"s{i}")
    for i in range(2, 4):
        with pytest.raises(NotEligible, match="cluster"):
            e.rules.signup_bonus(f"s{i}")
        with pytest.raises(NotEligible, match="cluster"):
            e.rules.daily_login(f"s{i}")
        assert e.ledger.balance(f"user:s{i}") == 0
    e.rules.signup_bonus("loner")  # an account in no cluster is never capped
    assert e.ledger.balance("user:loner") == e.config.rewards.signup


def test_a_refused_bonus_changes_nothing_and_is_paid_once_eligible(make_mem_economy, clock):
    e = make_mem_economy({"antisybil": {"min_account_age_days": 1}}, clock=clock)
    e.rules.guest_initial("alice")
    before = e.ledger.balance(ALICE)
    with pytest.raises(NotEligible):
        e.rules.daily_login("alice")
    assert e.ledger.balance(ALICE) == before
    clock.advance(days=1)
    e.rules.daily_login("alice")
    assert e.rules.daily_login("alice").login.replayed  # once per day, as without the defense


def test_a_negative_threshold_is_a_config_error():
    from ledger.economy.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="antisybil.min_activity"):
        load_config(overrides={"antisybil": {"min_activity": -1}})
