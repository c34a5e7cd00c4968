"""Where coins come from and where they go, by kind: issuance split into rewards (by
type), purchased coins, purchase bonuses and admin grants; burn split into the house fee,
dust, redeem and spend burns; and the pools (stakes, payouts, house burn).

Same conventions as `dashboards.metrics` (integer minor units, UTC days, one ``run_id``).
A kind is named from the journal's entry type by `kind_of`, so a new entry type shows up
as itself instead of vanishing into "other".
"""

from __future__ import annotations

import polars as pl

from .cache import cached
from .metrics import (
    BURN,
    MINT,
    Con,
    _df,
    activity,
    flows,
    gini_over_time,
    leaderboard,
    market_summary,
    revenue_daily,
)

__all__ = ["BURN_KINDS", "ISSUE_KINDS", "REWARD_TYPES", "by_kind", "coin_flow", "kind_of", "pool_daily", "pools", "warm"]

# Rewards: minted for something a user did (DESIGN.md section 4's earn rules).
REWARD_TYPES = ("GUEST_INITIAL", "SIGNUP_BONUS", "NEWSLETTER_BONUS", "DAILY_LOGIN", "STREAK_BONUS", "EARNED")
ISSUE_KINDS = {"COIN_PURCHASE": "purchased", "COIN_PURCHASE_BONUS": "purchase bonus",
               "PROMO_BONUS": "purchase bonus", "ADMIN_GRANT": "admin grant"}
BURN_KINDS = {"HOUSE_FEE_BURN": "house fee burn", "DUST_BURN": "dust burn", "REDEEM_BURN": "redeem burn",
              "VOTE_SPENT": "spend burn: votes", "DEEP_ANALYSIS_UNLOCK": "spend burn: unlocks",
              "COIN_PURCHASE_REFUND": "refund clawback"}


def kind_of(direction: str, entry_type: str) -> str:
    """A flow's kind in words: ``direction`` is "issued", "burned" or "unminted"."""
    if direction == "issued":
        if entry_type in REWARD_TYPES:
            return "reward: " + entry_type.lower().replace("_", " ")
        return ISSUE_KINDS.get(entry_type, entry_type.lower().replace("_", " "))
    return BURN_KINDS.get(entry_type, entry_type.lower().replace("_", " ") + " burn")


@cached
def _by_type(con: Con, run_id: str) -> pl.DataFrame:
    sql = f"""
        SELECT time::DATE AS day, asset, entry_type,
               CASE WHEN from_account = '{MINT}' THEN 'issued'
                    WHEN to_account = '{MINT}' THEN 'unminted' ELSE 'burned' END AS direction,
               split_part(CASE WHEN from_account = '{MINT}' THEN to_account ELSE from_account END, ':', 1)
                 AS holder,
               sum(CASE WHEN from_account = '{BURN}' THEN -amount ELSE amount END)::BIGINT AS amount
        FROM entries
        WHERE run_id = ? AND (from_account = '{MINT}' OR to_account IN ('{MINT}', '{BURN}')
                              OR from_account = '{BURN}')
        GROUP BY ALL ORDER BY day, direction, entry_type"""
    return _df(con, sql, [run_id])


def by_kind(con: Con, run_id: str, asset: str = "COIN") -> pl.DataFrame:
    """Per day and kind: ``day``, ``direction`` ("issued", "burned", "unminted"), ``kind``
    (`kind_of`), ``holder`` (the address kind on the holders' side: user, pool, platform)
    and ``amount``."""
    df = _by_type(con, run_id).filter(pl.col("asset") == asset)
    kinds = [kind_of(d, t) for d, t in zip(df["direction"].to_list(), df["entry_type"].to_list(), strict=True)]
    return df.with_columns(pl.Series("kind", kinds, dtype=pl.String)).select(
        "day", "direction", "kind", "holder", "amount")


def coin_flow(kinds: pl.DataFrame) -> pl.DataFrame:
    """The links of a Sankey over the period of ``kinds`` (`by_kind`, already filtered):
    sources (issuance kinds) -> holders' categories -> sinks (burn kinds); ``source``,
    ``target``, ``amount`` summed."""
    if kinds.is_empty():
        return pl.DataFrame(schema={"source": pl.String, "target": pl.String, "amount": pl.Int64})
    holder = pl.col("holder") + pl.lit(" accounts")
    issued = kinds.filter(pl.col("direction") == "issued").select(
        pl.col("kind").alias("source"), holder.alias("target"), "amount")
    sunk = kinds.filter(pl.col("direction") != "issued").select(
        holder.alias("source"), pl.col("kind").alias("target"), "amount")
    return (pl.concat([issued, sunk]).group_by("source", "target").agg(pl.col("amount").sum())
            .filter(pl.col("amount") > 0).sort("amount", descending=True))


# -- pools ------------------------------------------------------------------------------------
@cached
def pool_daily(con: Con, run_id: str) -> pl.DataFrame:
    """Per day, over parimutuel pools: ``stakes`` and ``staked`` (coins locked by stake
    holds), ``stakers`` (distinct users), ``payouts`` (coins paid to winners), ``refunds``
    (stakes returned), ``house_burn`` and ``dust_burn`` (coins burned)."""
    sql = f"""
        WITH s AS (
            SELECT created_at::DATE AS day, count(*) AS stakes, sum(amount)::BIGINT AS staked,
                   count(DISTINCT account) AS stakers
            FROM holds WHERE run_id = ?1 AND ref_type = 'pool' GROUP BY ALL),
        e AS (
            SELECT time::DATE AS day,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'STAKE_PAYOUT'), 0)::BIGINT AS payouts,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'STAKE_REFUND'), 0)::BIGINT AS refunds,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'HOUSE_FEE_BURN'), 0)::BIGINT AS house_burn,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'DUST_BURN'
                                                AND to_account = '{BURN}'), 0)::BIGINT AS dust_burn
            FROM entries WHERE run_id = ?1 AND asset = 'COIN'
              AND entry_type IN ('STAKE_PAYOUT', 'STAKE_REFUND', 'HOUSE_FEE_BURN', 'DUST_BURN') GROUP BY ALL)
        SELECT coalesce(s.day, e.day) AS day, coalesce(stakes, 0) AS stakes, coalesce(staked, 0)::BIGINT AS staked,
               coalesce(stakers, 0) AS stakers, coalesce(payouts, 0)::BIGINT AS payouts,
               coalesce(refunds, 0)::BIGINT AS refunds, coalesce(house_burn, 0)::BIGINT AS house_burn,
               coalesce(dust_burn, 0)::BIGINT AS dust_burn
        FROM s FULL JOIN e ON s.day = e.day ORDER BY day"""
    return _df(con, sql, [run_id])


def pools(con: Con, run_id: str) -> pl.DataFrame:
    """One row per pool: ``pool``, ``opened`` (first stake), ``stakes``, ``stakers``,
    ``staked``, ``payouts``, ``refunds``, ``house_burn``, ``dust_burn``, ``status``
    ("open" while a stake is still locked, else "settled")."""
    sql = f"""
        WITH s AS (
            SELECT ref_id AS pool, min(created_at) AS opened, count(*) AS stakes,
                   count(DISTINCT account) AS stakers, sum(amount)::BIGINT AS staked,
                   bool_or(status = 'LOCKED') AS open
            FROM holds WHERE run_id = ?1 AND ref_type = 'pool' GROUP BY ALL),
        e AS (
            SELECT ref_id AS pool,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'STAKE_PAYOUT'), 0)::BIGINT AS payouts,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'STAKE_REFUND'), 0)::BIGINT AS refunds,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'HOUSE_FEE_BURN'), 0)::BIGINT AS house_burn,
                   coalesce(sum(amount) FILTER (WHERE entry_type = 'DUST_BURN'
                                                AND to_account = '{BURN}'), 0)::BIGINT AS dust_burn
            FROM entries WHERE run_id = ?1 AND asset = 'COIN' AND ref_type = 'pool' GROUP BY ALL)
        SELECT s.pool, opened, stakes, stakers, staked, coalesce(payouts, 0)::BIGINT AS payouts,
               coalesce(refunds, 0)::BIGINT AS refunds, coalesce(house_burn, 0)::BIGINT AS house_burn,
               coalesce(dust_burn, 0)::BIGINT AS dust_burn, CASE WHEN open THEN 'open' ELSE 'settled' END AS status
        FROM s LEFT JOIN e USING (pool) ORDER BY opened DESC, s.pool"""
    return _df(con, sql, [run_id])


def warm(con: Con, run_id: str) -> None:
    """Build the cached rollups of ``run_id`` (after an export or a run), so the first
    page view reads them instead of scanning the journal."""
    flows(con, run_id)
    activity(con, run_id)
    revenue_daily(con, run_id)
    gini_over_time(con, run_id, "COIN")
    by_kind(con, run_id)
    pool_daily(con, run_id)
    market_summary(con, run_id)
    leaderboard(con, run_id)
