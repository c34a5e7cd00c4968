"""MarketConfig: defaults, loading from a plain dict (the [market] TOML table), clear errors."""

from __future__ import annotations

import pytest

from market import ConfigError, MarketConfig, PriceBand


def test_defaults_are_the_designs():
    cfg = MarketConfig()
    assert (cfg.maker_fee_bps, cfg.taker_fee_bps) == (200, 200)
    assert cfg.max_supply == 1_000_000 and cfg.earn_coins_per_usd == 1
    assert cfg.fee_destination == "revenue" and cfg.stp_mode == "cancel_newest"


def test_from_dict_reads_nested_defense_tables():
    cfg = MarketConfig.from_dict({
        "taker_fee_bps": 150,
        "fee_destination": "burn",
        "circuit_breaker": {"move_bps": 1500, "mode": "queue"},
        "price_floor": {"enabled": True, "budget": 5000},
    })
    assert cfg.taker_fee_bps == 150 and cfg.fee_destination == "burn"
    assert cfg.circuit_breaker.move_bps == 1500 and cfg.circuit_breaker.mode == "queue"
    assert cfg.circuit_breaker.pause_seconds == 900  # untouched keys keep their defaults
    assert cfg.price_floor.enabled and cfg.price_floor.budget == 5000


def test_round_trips_through_to_dict():
    cfg = MarketConfig.from_dict({"stp_mode": "decrement", "min_hold": {"enabled": True}})
    assert MarketConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("data,named", [
    ({"taker_fee": 100}, "market.taker_fee"),
    ({"price_band": {"width": 5}}, "market.price_band.width"),
    ({"stp_mode": "cancel_everything"}, "market.stp_mode"),
    ({"maker_fee_bps": -1}, "market.maker_fee_bps"),
    ({"maker_fee_bps": 2.5}, "market.maker_fee_bps"),
    ({"fee_destination": "void"}, "market.fee_destination"),
    ({"circuit_breaker": {"mode": "halt"}}, "circuit_breaker.mode"),
    ({"rate_limit": {"enabled": "yes"}}, "rate_limit.enabled"),
    ({"vesting": {"cliff_days": 400}}, "vesting.cliff_days"),
    ({"price_floor": "on"}, "market.price_floor"),
])
def test_bad_keys_and_values_raise_an_error_naming_them(data, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        MarketConfig.from_dict(data)


def test_bare_switches_every_defense_off():
    cfg = MarketConfig.bare(price_band=PriceBand())
    assert cfg.price_band.enabled
    assert not any(getattr(cfg, n).enabled for n in ("circuit_breaker", "daily_limit", "holding_cap",
                                                     "min_hold", "vesting", "price_floor", "rate_limit"))


def test_config_is_immutable():
    cfg = MarketConfig()
    with pytest.raises(AttributeError):
        cfg.taker_fee_bps = 0  # type: ignore[misc]
