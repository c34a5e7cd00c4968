"""data/economy.toml and its loader: the seeds' numbers, scenario overrides, clear errors."""

from __future__ import annotations

import pytest

from ledger.economy.config import ConfigError, config_diff, deep_merge, load_config


def test_defaults_are_the_seed_numbers():
    cfg = load_config()
    r, s = cfg.rewards, cfg.spend
    assert (r.guest_initial, r.signup, r.newsletter, r.daily_login) == (4, 5, 5, 2)
    assert (r.streak_bonus, r.streak_days) == (10, 7)
    assert (s.vote, s.deep_analysis_unlock) == (1, 5)
    assert cfg.coin.coins_per_usd == 100
    assert {k: (p.price_cents, p.bonus_coins) for k, p in cfg.packages.items()} == {
        "starter": (499, 1), "small": (999, 25), "medium": (1999, 100), "large": (4999, 500), "xl": (9999, 1500)}
    assert cfg.promos["FIRST50"].bonus_bps == 5000 and cfg.promos["FIRST50"].first_purchase_only
    assert cfg.promos["WELCOME100"].bonus_coins == 100
    assert cfg.purchases.pro_bonus_bps == 1000 and cfg.purchases.daily_limit_cents == 50_000
    assert cfg.pools.house_fee_bps == 300
    c = cfg.challenges
    assert (c.entry_fee_min, c.entry_fee_max, c.winner_bps, c.loser_bps, c.platform_bps) == (50, 500, 7000, 2000, 1000)
    assert cfg.refunds.policy == "claw_back"
    assert cfg.phase2.daily_bonus_requires_stake is False


def test_scenario_overrides_only_what_it_names(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text("[rewards]\ndaily_login = 3\n[packages.xl]\nbonus_coins = 2000\n"
                        "[market]\nfee_bps = 150\n[population]\nusers = 1000\n")
    cfg = load_config(scenario=scenario)
    assert cfg.rewards.daily_login == 3 and cfg.rewards.signup == 5
    assert cfg.packages["xl"].bonus_coins == 2000 and cfg.packages["xl"].price_cents == 9999
    assert cfg.market == {"fee_bps": 150} and cfg.population == {"users": 1000}


def test_a_negative_reward_names_the_key():
    with pytest.raises(ConfigError, match=r"rewards\.daily_login: must be >= 0"):
        load_config(overrides={"rewards": {"daily_login": -1}})


def test_an_unknown_key_in_a_scenario_is_an_error(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text("[rewards]\ndaily_logn = 3\n")
    with pytest.raises(ConfigError, match=r"rewards\.daily_logn: unknown key"):
        load_config(scenario=scenario)


def test_an_unknown_table_is_an_error():
    with pytest.raises(ConfigError, match=r"rewardz: unknown key"):
        load_config(overrides={"rewardz": {}})


def test_a_float_amount_is_refused():
    with pytest.raises(ConfigError, match=r"spend\.vote: must be an integer"):
        load_config(overrides={"spend": {"vote": 1.5}})


def test_challenge_shares_must_add_up():
    with pytest.raises(ConfigError, match="winner_bps \\+ loser_bps \\+ platform_bps must be 10000"):
        load_config(overrides={"challenges": {"winner_bps": 8000}})


def test_bad_toml_and_missing_file_are_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[rewards\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(scenario=bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(scenario=tmp_path / "nope.toml")


def test_deep_merge_merges_tables_and_replaces_values():
    assert deep_merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"c": 3}, "d": [2]}) == {"a": {"b": 1, "c": 3}, "d": [2]}


def test_diff_lists_changed_keys_only():
    a = load_config()
    b = a.with_overrides({"pools": {"house_fee_bps": 500}, "market": {"x": 1}})
    assert config_diff(a, b) == [("market.x", None, 1), ("pools.house_fee_bps", 300, 500)]
    assert config_diff(a, a) == []
