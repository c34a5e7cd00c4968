"""Issuance and burn by kind, the coin-flow links and the pools, against the journal and
against the pool resolved in the production fixture (tests/dashboards/prod.py)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import flows
from dashboards import metrics as m
from dashboards.warehouse import PROD, connect


@pytest.fixture
def con(warehouse):
    return connect(warehouse["root"])


@pytest.mark.parametrize("which", ["run_id", "pools_run", "pump_run", "prod"])
def test_issuance_and_burn_by_kind_add_up_to_the_supply_flows(warehouse, con, which):
    run_id = PROD if which == "prod" else warehouse[which]
    kinds = flows.by_kind(con, run_id, "COIN")
    sup = m.supply_daily(con, run_id, "COIN")
    for direction in ("issued", "burned", "unminted"):
        assert kinds.filter(pl.col("direction") == direction)["amount"].sum() == sup[direction].sum(), direction


def test_production_issuance_is_split_into_rewards_purchases_bonus_and_grants(con):
    totals = dict(flows.by_kind(con, PROD, "COIN").filter(pl.col("direction") == "issued")
                  .group_by("kind").agg(pl.col("amount").sum()).iter_rows())
    assert totals["admin grant"] == 100
    assert totals["reward: signup bonus"] == 4 * 5
    assert totals["reward: daily login"] == (4 + 3 + 1) * 2
    assert totals["purchased"] > 0 and totals["purchase bonus"] > 0


def test_production_burn_is_split_into_house_fee_and_dust(con):
    totals = dict(flows.by_kind(con, PROD, "COIN").filter(pl.col("direction") == "burned")
                  .group_by("kind").agg(pl.col("amount").sum()).iter_rows())
    assert totals["house fee burn"] == 10
    assert totals["dust burn"] == 1


def test_kinds_are_named_in_words_and_an_unknown_type_names_itself():
    assert flows.kind_of("issued", "DAILY_LOGIN") == "reward: daily login"
    assert flows.kind_of("issued", "COIN_PURCHASE_BONUS") == "purchase bonus"
    assert flows.kind_of("burned", "REDEEM_BURN") == "redeem burn"
    assert flows.kind_of("issued", "BRAND_NEW_GIFT") == "brand new gift"


def test_coin_flow_links_carry_every_coin_from_its_source_to_a_holder_and_on_to_a_sink(con):
    kinds = flows.by_kind(con, PROD, "COIN")
    links = flows.coin_flow(kinds)
    issued = kinds.filter(pl.col("direction") == "issued")["amount"].sum()
    sunk = kinds.filter(pl.col("direction") != "issued")["amount"].sum()
    into_holders = links.filter(pl.col("target").str.ends_with(" accounts"))["amount"].sum()
    out_of_holders = links.filter(pl.col("source").str.ends_with(" accounts"))["amount"].sum()
    assert (into_holders, out_of_holders) == (issued, sunk)
    assert ("pool accounts", "house fee burn", 10) in links.rows()


def test_pools_report_stakes_payouts_and_burns_of_the_resolved_pool(con):
    pool = flows.pools(con, PROD).filter(pl.col("pool") == "cup-final").row(0, named=True)
    assert (pool["stakes"], pool["stakers"], pool["staked"]) == (3, 2, 351)
    assert (pool["payouts"], pool["house_burn"], pool["dust_burn"], pool["status"]) == (340, 10, 1, "settled")
    # stakes in = payouts + burned, to the coin
    assert pool["staked"] == pool["payouts"] + pool["house_burn"] + pool["dust_burn"]


def test_pool_days_sum_to_the_pools(warehouse, con):
    run_id = warehouse["pools_run"]
    daily, per_pool = flows.pool_daily(con, run_id), flows.pools(con, run_id)
    assert per_pool.height > 0
    for col in ("stakes", "staked", "payouts", "refunds", "dust_burn"):
        assert daily[col].sum() == per_pool[col].sum(), col
