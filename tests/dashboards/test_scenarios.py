"""The Experiments page's helpers: every knob offered, overrides, figures compared with
difference and %, and the daily series behind the fan charts."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import scenarios as sc
from dashboards.alerts import in_words
from dashboards.warehouse import PROD, connect


def test_knobs_cover_rewards_sinks_package_prices_pool_fee_and_every_market_and_sybil_defense():
    keys = {k.key: k for k in sc.knobs("baseline")}
    for key in ("rewards.daily_login", "spend.vote", "packages.xl.price_cents", "packages.xl.bonus_coins",
                "pools.house_fee_bps", "antisybil.cluster_cap", "market.price_band.width_bps",
                "market.circuit_breaker.enabled", "market.circuit_breaker.move_bps", "market.holding_cap.supply_bps",
                "market.rate_limit.max_orders", "market.price_floor.enabled", "market.maker_fee_bps"):
        assert key in keys, key
    assert keys["pools.house_fee_bps"].default == 300 and keys["pools.house_fee_bps"].section == "Pools"
    assert keys["market.circuit_breaker.move_bps"].label == "circuit breaker: move (bps)"
    assert not any(k.endswith((".name", ".display_order", "_url")) for k in keys)


def test_a_scenario_file_sets_the_knobs_defaults():
    assert sc.defaults("pump_and_dump_defended")["market.holding_cap.enabled"] is True
    assert sc.defaults("baseline")["market.holding_cap.enabled"] is False


def test_changes_are_the_overrides_that_differ_as_toml_literals():
    base = {"rewards.daily_login": 2, "spend.burn": False, "refunds.policy": "claw_back"}
    assert sc.changes(base, {"rewards.daily_login": 5, "spend.burn": True, "refunds.policy": "keep"}) == [
        "rewards.daily_login=5", "spend.burn=true", 'refunds.policy="keep"']
    assert sc.changes(base, base) == []


def test_a_bad_knob_value_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="pools"):
        sc.run_sweep(tmp_path, "baseline", ["pools.house_fee_bps=-5"], 10, 1, 1, workers=1)
    assert not (tmp_path / "runs").exists()


def test_compare_gives_difference_and_percent_against_the_first_source():
    a = dict.fromkeys((f.name for f in sc.FIGURES), 0.0) | {"Issued": 200.0, "Net revenue": 1000.0}
    b = dict(a) | {"Issued": 250.0, "Net revenue": 900.0}
    c = dict(a) | {"Issued": 350.0}
    table = sc.compare({"current": [a], "new": [b, c]})
    issued = table.filter(pl.col("figure") == "Issued").row(0, named=True)
    assert (issued["current"], issued["new"], issued["new: difference"], issued["new: %"]) == (200, 300, 100, 0.5)
    revenue = table.filter(pl.col("figure") == "Net revenue").row(0, named=True)
    assert revenue["unit"] == "cents" and revenue["new: %"] == pytest.approx((950 - 1000) / 1000)
    # a zero reference has no percent: blank, not infinity
    assert table.filter(pl.col("figure") == "Burned")["new: %"][0] is None


def test_figures_of_production_follow_the_date_range(warehouse):
    con = connect(warehouse["root"])
    whole = sc.figures(con, PROD)
    first_day = con.execute("SELECT min(time)::DATE FROM entries WHERE run_id = 'prod'").fetchall()[0][0]
    day1 = sc.figures(con, PROD, first_day, first_day)
    assert day1["Issued as admin grants"] == whole["Issued as admin grants"] == 100
    assert 0 < day1["Issued"] < whole["Issued"]


def test_family_daily_numbers_days_from_each_runs_first_day(warehouse):
    con = connect(warehouse["root"])
    df = sc.family_daily(con, [warehouse["run_id"], PROD])
    for rid in (warehouse["run_id"], PROD):
        days = df.filter(pl.col("run_id") == rid)["day_of_run"].to_list()
        assert days[0] == 0 and days == sorted(days)


def test_detector_evidence_is_told_in_words():
    wash = ('{"accounts":["user:a","user:b"],"thresholds":{"wash_max_accounts":8,"wash_min_trades":10},'
            '"trades_inside":11,"trades_involving":14,"window_s":86400.0}')
    assert in_words("wash_trading", wash) == (
        "2 accounts (user:a, user:b) traded with each other in 11 of the 14 trades they took part in within 24 h "
        "(flagged from 10 trades inside a group of at most 8 accounts).")
    assert in_words("price_band", "buy limit 111 outside band 90..110") == "buy limit 111 outside band 90..110"
    assert "{" not in in_words("something_new", '{"price": 5, "thresholds": {}}')
