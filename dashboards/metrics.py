"""The metrics library: every number the dashboards (and notebooks) show, computed by
DuckDB over the warehouse views (`dashboards.warehouse.connect`) for one ``run_id``
(``'prod'`` or a simulation run). Tables come back as polars DataFrames.

Conventions:

- Money is integer minor units (COIN: whole coins, USD: cents). Only ratios (shares,
  Gini, velocity, conversion) are floats.
- A *day* is a UTC calendar day of the entry's ``time``.
- *Issued* is what left ``system:mint``; *unminted* is what went back to it (refund
  clawbacks, negative adjustments); *burned* is what reached ``system:burn``;
  ``net_flow = issued - unminted - burned`` and *supply* is its running sum, so for COIN
  it equals the simulator's ``circulating``.
- *Holders* are accounts whose address kind is not one of `HOUSE_KINDS` (the system,
  platform, pools, vesting escrow and external counterparties are not holders).
- A user is *active* on a day when a ``user:`` account takes part in an entry that day.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import duckdb
import polars as pl

from .cache import cached

__all__ = [
    "HOUSE_KINDS", "INTERVALS", "Concentration", "Headline", "RevenueSummary", "activity", "alerts", "candles",
    "concentration", "daily_active", "days", "Facts", "facts", "flows", "gini_over_time", "halts", "headlines", "leaderboard", "lorenz", "market_summary",
    "order_book", "retention", "retention_summary", "revenue_by_package", "revenue_daily", "revenue_summary",
    "supply_daily", "symbols", "top_holders", "velocity_daily",
]

Con = duckdb.DuckDBPyConnection
MINT, BURN, ESCROW = "system:mint", "system:burn", "system:escrow"
HOUSE_KINDS = ("system", "platform", "pool", "vesting", "external")
_HOUSE = "(" + ", ".join(f"'{k}'" for k in HOUSE_KINDS) + ")"
# Escrow round trips (an order or stake locking coins, then returning them) move no
# ownership, so velocity leaves them out.
_NOT_TRADING = ("HOLD_LOCK", "HOLD_RETURN")
INTERVALS = {"5m": "5 minutes", "15m": "15 minutes", "1h": "1 hour", "4h": "4 hours", "1d": "1 day",
             "1w": "7 days"}


def _df(con: Con, sql: str, params: list[Any]) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())  # type: ignore[return-value]


def _span(lo: int, hi: int, column: str = "time") -> str:
    """Rows whose ``column`` falls between the dates in parameters ``?lo`` and ``?hi``
    (NULL: an open end)."""
    return f"(?{lo} IS NULL OR {column}::DATE >= ?{lo}) AND (?{hi} IS NULL OR {column}::DATE <= ?{hi})"


def _one(con: Con, sql: str, params: list[Any]) -> tuple[Any, ...]:
    # fetchall, not fetchone: DuckDB 2 refuses new work while a result is half read.
    return con.execute(sql, params).fetchall()[0]


# -- supply and flow --------------------------------------------------------------------------
@cached
def flows(con: Con, run_id: str) -> pl.DataFrame:
    """The journal rolled up per day and asset, in one scan (cached): ``issued``,
    ``unminted``, ``burned``, ``mint_burn_rows`` (entries touching the mint or the burn
    account) and ``volume`` / ``volume_rows`` (coins that changed hands: no mint, no
    burn, no escrow round trip)."""
    sql = f"""
        SELECT time::DATE AS day, asset,
               coalesce(sum(amount) FILTER (WHERE from_account = '{MINT}'), 0)::BIGINT AS issued,
               coalesce(sum(amount) FILTER (WHERE to_account = '{MINT}'), 0)::BIGINT AS unminted,
               (coalesce(sum(amount) FILTER (WHERE to_account = '{BURN}'), 0)
                - coalesce(sum(amount) FILTER (WHERE from_account = '{BURN}'), 0))::BIGINT AS burned,
               count(*) FILTER (WHERE from_account IN ('{MINT}', '{BURN}') OR to_account IN ('{MINT}', '{BURN}'))
                 AS mint_burn_rows,
               coalesce(sum(amount) FILTER (WHERE {_TRADING}), 0)::BIGINT AS volume,
               count(*) FILTER (WHERE {_TRADING}) AS volume_rows
        FROM entries WHERE run_id = ? GROUP BY ALL ORDER BY asset, day"""
    return _df(con, sql, [run_id])


def days(con: Con, run_id: str) -> tuple[Any, Any]:
    """The first and last day with a journal entry (any asset), or (None, None) for a
    source without entries: read off the cached `flows` rollup (one row per day and
    asset), so the date picker and the headlines do not scan the journal."""
    df = flows(con, run_id)
    if df.is_empty():
        return None, None
    return df["day"].min(), df["day"].max()


_TRADING = (f"from_account NOT IN ('{MINT}', '{BURN}') AND to_account NOT IN ('{MINT}', '{BURN}') "
            f"AND entry_type NOT IN {_NOT_TRADING}")


def _with_supply(df: pl.DataFrame) -> pl.DataFrame:
    net = (pl.col("issued") - pl.col("unminted") - pl.col("burned")).alias("net_flow")
    return df.with_columns(net).with_columns(pl.col("net_flow").cum_sum().over("asset").alias("supply"))


def supply_daily(con: Con, run_id: str, asset: str | None = None) -> pl.DataFrame:
    """Per day and asset: ``issued``, ``unminted``, ``burned``, ``net_flow`` and the
    ``supply`` at the end of the day (running sum of net_flow). Days without a mint or
    burn movement are absent."""
    df = flows(con, run_id)
    if asset is not None:
        df = df.filter(pl.col("asset") == asset)
    df = _with_supply(df).filter(pl.col("mint_burn_rows") > 0)
    return df.select("day", "asset", "issued", "unminted", "burned", "net_flow", "supply")


def velocity_daily(con: Con, run_id: str, asset: str = "COIN") -> pl.DataFrame:
    """Per day: ``volume`` (coins that changed hands: no mint, no burn, no escrow round
    trip), ``supply`` at the end of the day and ``velocity = volume / supply``."""
    df = _with_supply(flows(con, run_id).filter(pl.col("asset") == asset))
    df = df.filter((pl.col("mint_burn_rows") > 0) | (pl.col("volume_rows") > 0))
    velocity = pl.when(pl.col("supply") > 0).then(pl.col("volume") / pl.col("supply")).otherwise(None)
    return df.select("day", "volume", "supply", velocity.alias("velocity"))


# -- concentration ----------------------------------------------------------------------------
class Concentration(NamedTuple):
    """Holder concentration of one asset at the end: ``holders`` with a positive balance,
    their ``total``; ``gini`` (0 equal .. 1 one holds all); ``top1_share`` held by the top
    1% of holders (at least one); ``top10_share`` held by the ten largest; ``hhi`` the sum
    of squared shares (1/holders .. 1); ``nakamoto`` the fewest holders that together
    hold more than half."""

    holders: int
    total: int
    gini: float
    top1_share: float
    top10_share: float
    hhi: float
    nakamoto: int


_HOLDERS = f"""
    SELECT account, balance AS x FROM accounts
    WHERE run_id = ? AND asset = ? AND kind NOT IN {_HOUSE} AND balance > 0"""


def concentration(con: Con, run_id: str, asset: str = "COIN") -> Concentration:
    sql = f"""
        WITH h AS ({_HOLDERS}),
        r AS (SELECT x, row_number() OVER (ORDER BY x) AS i, row_number() OVER (ORDER BY x DESC) AS d,
                     sum(x) OVER (ORDER BY x DESC ROWS UNBOUNDED PRECEDING) AS cum_desc,
                     count(*) OVER () AS n, sum(x) OVER () AS t FROM h)
        SELECT count(*), coalesce(sum(x), 0)::BIGINT,
               coalesce(2.0 * sum(i * x) / (any_value(n) * any_value(t)) - (any_value(n) + 1.0) / any_value(n), 0),
               coalesce(sum(x) FILTER (WHERE d <= greatest(1, ceil(n * 0.01))) / any_value(t), 0),
               coalesce(sum(x) FILTER (WHERE d <= 10) / any_value(t), 0),
               coalesce(sum((x / t) * (x / t)), 0),
               coalesce(min(d) FILTER (WHERE cum_desc * 2 > t), 0)
        FROM r"""
    n, total, g, top1, top10, hhi, nak = _one(con, sql, [run_id, asset])
    return Concentration(int(n), int(total), float(g), float(top1), float(top10), float(hhi), int(nak))


def lorenz(con: Con, run_id: str, asset: str = "COIN", points: int = 100) -> pl.DataFrame:
    """The Lorenz curve: ``population`` share (poorest first) against the ``wealth`` share
    they hold, from (0, 0) to (1, 1), at most ``points`` + 1 points."""
    sql = f"""
        WITH h AS ({_HOLDERS}),
        r AS (SELECT row_number() OVER (ORDER BY x) AS i, count(*) OVER () AS n,
                     sum(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) AS c, sum(x) OVER () AS t FROM h)
        SELECT 0.0 AS population, 0.0 AS wealth
        UNION ALL
        SELECT i / n, c / t FROM r WHERE i = n OR i % greatest(1, n // ?) = 0
        ORDER BY population"""
    return _df(con, sql, [run_id, asset, points])


def top_holders(con: Con, run_id: str, asset: str = "COIN", limit: int = 20) -> pl.DataFrame:
    """The largest holders: ``account``, ``role`` (simulated agent type), ``balance``, ``share``."""
    sql = f"""
        SELECT account, role, balance, balance / sum(balance) OVER () AS share FROM accounts
        WHERE run_id = ? AND asset = ? AND kind NOT IN {_HOUSE} AND balance > 0
        ORDER BY balance DESC, account LIMIT ?"""
    return _df(con, sql, [run_id, asset, limit])


@cached
def gini_over_time(con: Con, run_id: str, asset: str = "COIN", points: int = 12) -> pl.DataFrame:
    """Gini of holder balances at the end of up to ``points`` evenly spaced days (the
    first and last day of the journal included), rebuilt from the journal's balance-after
    columns: each account's last entry up to that day."""
    sql = f"""
        WITH span AS (SELECT min(time)::DATE AS lo, (max(time)::DATE - min(time)::DATE) AS span
                      FROM entries WHERE run_id = ?1 AND asset = ?2),
        legs AS (
            SELECT from_account AS account, id, time::DATE AS day, from_after AS bal FROM entries
            WHERE run_id = ?1 AND asset = ?2
            UNION ALL
            SELECT to_account, id, time::DATE, to_after FROM entries WHERE run_id = ?1 AND asset = ?2),
        -- each leg counts toward the first sample day on or after it: day_k = lo + k*span // (p-1)
        bucketed AS (
            SELECT account, bal, id,
                   CASE WHEN span = 0 THEN lo ELSE
                     lo + CAST((((day - lo) * (?3 - 1) + span - 1) // span) * span // (?3 - 1) AS INTEGER) END AS sday
            FROM legs, span),
        last AS (SELECT account, sday, arg_max(bal, id) AS bal FROM bucketed GROUP BY account, sday),
        holders AS (SELECT * FROM last WHERE split_part(account, ':', 1) NOT IN {_HOUSE}),
        days AS (SELECT DISTINCT sday AS day FROM last),
        snap AS (SELECT d.day, h.account, arg_max(h.bal, h.sday) AS x
                 FROM days d JOIN holders h ON h.sday <= d.day GROUP BY d.day, h.account),
        r AS (SELECT day, x, row_number() OVER (PARTITION BY day ORDER BY x) AS i,
                     count(*) OVER (PARTITION BY day) AS n, sum(x) OVER (PARTITION BY day) AS t
              FROM snap WHERE x > 0)
        SELECT day, count(*) AS holders,
               2.0 * sum(i * x) / (any_value(n) * any_value(t)) - (any_value(n) + 1.0) / any_value(n) AS gini
        FROM r GROUP BY day ORDER BY day"""
    return _df(con, sql, [run_id, asset, max(points, 2)])


# -- revenue ----------------------------------------------------------------------------------
class RevenueSummary(NamedTuple):
    """Over the whole source, in cents: ``gross`` (REVENUE entries), ``refunds``
    (REVENUE_REFUND), ``net``; ``paid_sessions``; ``paying_users`` (a paid checkout);
    ``users`` (user accounts); ``conversion`` = paying_users / users; ``arppu_cents`` =
    net // paying_users; ``bonus_coins`` given with paid packages."""

    gross: int
    refunds: int
    net: int
    paid_sessions: int
    paying_users: int
    users: int
    conversion: float
    arppu_cents: int
    bonus_coins: int


@cached
def revenue_daily(con: Con, run_id: str) -> pl.DataFrame:
    """Per day, in cents: ``gross``, ``refunds``, ``net`` (from the USD journal)."""
    sql = """
        SELECT time::DATE AS day,
               sum(amount) FILTER (WHERE entry_type = 'REVENUE')::BIGINT AS gross,
               coalesce(sum(amount) FILTER (WHERE entry_type = 'REVENUE_REFUND'), 0)::BIGINT AS refunds
        FROM entries WHERE run_id = ? AND asset = 'USD' AND entry_type IN ('REVENUE', 'REVENUE_REFUND')
        GROUP BY ALL ORDER BY day"""
    df = _df(con, sql, [run_id]).with_columns(pl.col("gross").fill_null(0))
    return df.with_columns((pl.col("gross") - pl.col("refunds")).alias("net"))


def revenue_by_package(con: Con, run_id: str, since: Any = None, until: Any = None) -> pl.DataFrame:
    """Per package over checkouts paid from ``since`` to ``until`` (dates, None: open end)
    (refunded later or not): ``sales``, ``gross_cents``, ``refunded_cents``, ``net_cents``,
    ``base_coins``, ``bonus_coins``."""
    sql = f"""
        SELECT package_id, count(*) AS sales, sum(price_cents)::BIGINT AS gross_cents,
               sum(refunded_cents)::BIGINT AS refunded_cents,
               (sum(price_cents) - sum(refunded_cents))::BIGINT AS net_cents,
               sum(base_coins)::BIGINT AS base_coins, sum(bonus_coins)::BIGINT AS bonus_coins
        FROM payments WHERE run_id = ?1 AND paid_at IS NOT NULL AND {_span(2, 3, "paid_at")}
        GROUP BY package_id ORDER BY gross_cents DESC, package_id"""
    return _df(con, sql, [run_id, since, until])


def revenue_summary(con: Con, run_id: str, since: Any = None, until: Any = None) -> RevenueSummary:
    """Revenue from ``since`` to ``until`` (dates, None: open end); conversion is over
    every user of the source."""
    gross, refunds = _one(
        con, "SELECT coalesce(sum(amount) FILTER (WHERE entry_type = 'REVENUE'), 0)::BIGINT, "
        "coalesce(sum(amount) FILTER (WHERE entry_type = 'REVENUE_REFUND'), 0)::BIGINT "
        f"FROM entries WHERE run_id = ?1 AND asset = 'USD' AND {_span(2, 3)}", [run_id, since, until])
    sessions, payers, bonus = _one(
        con, "SELECT count(*), count(DISTINCT user_id), coalesce(sum(bonus_coins), 0)::BIGINT FROM payments "
        f"WHERE run_id = ?1 AND paid_at IS NOT NULL AND {_span(2, 3, 'paid_at')}", [run_id, since, until])
    users = _one(con, "SELECT count(DISTINCT account) FROM accounts WHERE run_id = ? AND kind = 'user'",
                 [run_id])[0]
    net = int(gross) - int(refunds)
    return RevenueSummary(int(gross), int(refunds), net, int(sessions), int(payers), int(users),
                          payers / users if users else 0.0, net // payers if payers else 0, int(bonus))


# -- market -----------------------------------------------------------------------------------
def symbols(con: Con, run_id: str) -> list[str]:
    """Brand coins with at least one trade or order."""
    rows = con.execute("SELECT symbol FROM trades WHERE run_id = ?1 UNION SELECT symbol FROM orders "
                       "WHERE run_id = ?1 ORDER BY 1", [run_id]).fetchall()
    return [r[0] for r in rows]


def candles(con: Con, run_id: str, symbol: str, interval: str = "1h") -> pl.DataFrame:
    """OHLCV of ``symbol`` per ``interval`` (a key of `INTERVALS`) from the trade tape:
    ``start``, ``open``/``high``/``low``/``close`` (COIN per coin), ``volume`` (coins),
    ``quote_volume`` (COIN), ``trades``. Intervals without a trade are absent."""
    width = INTERVALS[interval]
    sql = f"""
        SELECT time_bucket(INTERVAL '{width}', time) AS start, arg_min(price, trade_id) AS open,
               max(price) AS high, min(price) AS low, arg_max(price, trade_id) AS close,
               sum(quantity)::BIGINT AS volume, sum(quote)::BIGINT AS quote_volume, count(*) AS trades
        FROM trades WHERE run_id = ? AND symbol = ? GROUP BY start ORDER BY start"""
    return _df(con, sql, [run_id, symbol])





# Cached: the Markets page's two scans of the trade tape were most of its script's time.
@cached
def market_summary(con: Con, run_id: str, since: Any = None, until: Any = None) -> pl.DataFrame:
    """Per coin, over trades from ``since`` to ``until`` (dates; None: open end):
    ``trades``, ``volume`` (coins), ``quote_volume`` and ``fees`` (COIN), ``last_price``,
    ``high``/``low``; most COIN traded first."""
    sql = f"""
        SELECT symbol, count(*) AS trades, sum(quantity)::BIGINT AS volume, sum(quote)::BIGINT AS quote_volume,
               sum(buyer_fee + seller_fee)::BIGINT AS fees, arg_max(price, trade_id) AS last_price,
               max(price) AS high, min(price) AS low
        FROM trades WHERE run_id = ?1 AND {_span(2, 3)}
        GROUP BY symbol ORDER BY quote_volume DESC, symbol"""
    return _df(con, sql, [run_id, since, until])


@cached
def leaderboard(con: Con, run_id: str, limit: int = 20, since: Any = None, until: Any = None) -> pl.DataFrame:
    """Traders by COIN traded (both sides) from ``since`` to ``until``: ``account``,
    ``trades``, ``bought`` and ``sold`` (coins), ``quote_volume`` and ``fees`` (COIN)."""
    sql = f"""
        WITH sides AS (
            SELECT buyer AS account, quantity AS bought, 0 AS sold, quote, buyer_fee AS fee
            FROM trades WHERE run_id = ?1 AND {_span(3, 4)}
            UNION ALL
            SELECT seller, 0, quantity, quote, seller_fee FROM trades WHERE run_id = ?1 AND {_span(3, 4)})
        SELECT account, count(*) AS trades, sum(bought)::BIGINT AS bought, sum(sold)::BIGINT AS sold,
               sum(quote)::BIGINT AS quote_volume, sum(fee)::BIGINT AS fees
        FROM sides GROUP BY account ORDER BY quote_volume DESC, account LIMIT ?2"""
    return _df(con, sql, [run_id, limit, since, until])


def order_book(con: Con, run_id: str, symbol: str) -> pl.DataFrame:
    """Depth of the resting orders (status open) of ``symbol``: per ``side`` and
    ``price``, the ``quantity`` resting and the ``depth`` (cumulative from the best price)."""
    sql = """
        WITH lv AS (SELECT side, price, sum(remaining)::BIGINT AS quantity FROM orders
                    WHERE run_id = ? AND symbol = ? AND status = 'open' AND remaining > 0 GROUP BY side, price)
        SELECT side, price, quantity,
               sum(quantity) OVER (PARTITION BY side ORDER BY CASE WHEN side = 'buy' THEN -price ELSE price END
                                   ROWS UNBOUNDED PRECEDING)::BIGINT AS depth
        FROM lv ORDER BY side, price"""
    return _df(con, sql, [run_id, symbol])


def alerts(con: Con, run_id: str, limit: int = 500) -> pl.DataFrame:
    """Market defenses that acted and detector flags, newest first."""
    return _df(con, "SELECT time, kind, symbol, name, action, reason, account, order_id FROM alerts "
                    "WHERE run_id = ? ORDER BY time DESC LIMIT ?", [run_id, limit])


def halts(con: Con, run_id: str) -> pl.DataFrame:
    """Per coin and defense: how often it acted (``count``), and the circuit-breaker
    ``halts`` (matching paused or stopped)."""
    sql = """
        SELECT symbol, name, count(*) AS count,
               count(*) FILTER (WHERE action IN ('paused', 'stopped')) AS halts
        FROM alerts WHERE run_id = ? GROUP BY symbol, name ORDER BY count DESC, symbol, name"""
    return _df(con, sql, [run_id])


# -- activity and retention -------------------------------------------------------------------
@cached
def activity(con: Con, run_id: str) -> pl.DataFrame:
    """The cohort matrix every activity figure derives from (cached): per ``cohort``
    (first active day) and ``offset`` (days since), the cohort's users ``active`` that day."""
    sql = """
        WITH act AS (
            SELECT DISTINCT account, day FROM (
                SELECT from_account AS account, time::DATE AS day FROM entries
                WHERE run_id = ?1 AND from_account LIKE 'user:%'
                UNION ALL
                SELECT to_account, time::DATE FROM entries WHERE run_id = ?1 AND to_account LIKE 'user:%')),
        first AS (SELECT account, min(day) AS cohort FROM act GROUP BY account)
        SELECT f.cohort, (a.day - f.cohort) AS "offset", count(*) AS active
        FROM act a JOIN first f USING (account) GROUP BY ALL ORDER BY f.cohort, "offset" """
    return _df(con, sql, [run_id])


def daily_active(con: Con, run_id: str) -> pl.DataFrame:
    """Per day: ``active`` users and ``new`` users (first active that day)."""
    a = activity(con, run_id).with_columns(
        (pl.col("cohort") + pl.duration(days=pl.col("offset"))).cast(pl.Date).alias("day"))
    return (a.group_by("day").agg(pl.col("active").sum(),
                                  pl.col("active").filter(pl.col("offset") == 0).sum().alias("new"))
            .sort("day"))


def retention(con: Con, run_id: str, max_offset: int = 30) -> pl.DataFrame:
    """Cohorts by first active day: ``cohort``, ``offset`` (days since), ``size``,
    ``active`` (cohort users active that day) and ``rate`` = active / size."""
    a = activity(con, run_id)
    sizes = a.filter(pl.col("offset") == 0).select("cohort", pl.col("active").alias("size"))
    return (a.filter(pl.col("offset") <= max_offset).join(sizes, on="cohort")
            .select("cohort", "offset", "size", "active", (pl.col("active") / pl.col("size")).alias("rate"))
            .sort("cohort", "offset"))


def retention_summary(con: Con, run_id: str, offsets: tuple[int, ...] = (1, 7, 30)) -> dict[int, float | None]:
    """Day-N retention over every cohort old enough to have a day N (None if none is)."""
    r = retention(con, run_id, max(offsets))
    last = days(con, run_id)[1]
    out: dict[int, float | None] = {}
    for k in offsets:
        if last is None:
            out[k] = None
            continue
        sizes = r.filter((pl.col("offset") == 0) & (pl.col("cohort") <= _minus_days(last, k)))
        size = int(sizes["size"].sum())
        active = int(r.filter((pl.col("offset") == k) & pl.col("cohort").is_in(sizes["cohort"].to_list()))["active"].sum())
        out[k] = active / size if size else None
    return out


class Facts(NamedTuple):
    """The stylized facts of an app economy, over *app users* (accounts credited
    GUEST_INITIAL; a session is a DAILY_LOGIN credit, a purchase a paid checkout):
    ``retention`` day N -> share of users old enough with a session on their day N;
    ``conversion``: share of users old enough (30 days, else all) who paid within their
    first 30 days; ``top10_revenue_share``: what the top 10% of payers brought of all
    payers' revenue; ``repeat_rate``: share of payers (seen for 60 days after their first
    purchase, else all) who paid again within those 60 days; ``payers`` and ``users`` behind them."""

    retention: dict[int, float | None]
    conversion: float | None
    top10_revenue_share: float | None
    repeat_rate: float | None
    payers: int
    users: int


def facts(con: Con, run_id: str, offsets: tuple[int, ...] = (1, 7, 30)) -> Facts:
    last = _one(con, "SELECT max(time)::DATE FROM entries WHERE run_id = ?", [run_id])[0]
    users = _df(con, """
        SELECT to_account AS account, min(time)::DATE AS joined FROM entries
        WHERE run_id = ? AND entry_type = 'GUEST_INITIAL' GROUP BY ALL""", [run_id])
    if last is None or users.is_empty():
        return Facts({k: None for k in offsets}, None, None, None, 0, 0)
    sessions = _df(con, """
        SELECT DISTINCT to_account AS account, time::DATE AS day FROM entries
        WHERE run_id = ? AND entry_type = 'DAILY_LOGIN'""", [run_id])
    ret: dict[int, float | None] = {}
    for k in offsets:
        old = users.filter(pl.col("joined") <= _minus_days(last, k))
        hit = old.join(sessions, on="account").filter(
            (pl.col("day") - pl.col("joined")).dt.total_days() == k)
        ret[k] = hit.height / old.height if old.height else None
    paid = _df(con, """
        SELECT 'user:' || user_id AS account, paid_at::DATE AS day, price_cents - refunded_cents AS net
        FROM payments WHERE run_id = ? AND paid_at IS NOT NULL""", [run_id]).join(users, on="account")
    old = users.filter(pl.col("joined") <= _minus_days(last, 30))
    base = old if old.height else users
    early = paid.filter((pl.col("day") - pl.col("joined")).dt.total_days() < 30)
    conversion = early.join(base, on="account", how="semi")["account"].n_unique() / base.height
    per_payer = paid.group_by("account").agg(pl.col("net").sum(), pl.col("day").min().alias("first"),
                                             pl.len().alias("n"))
    payers = per_payer.height
    top = repeat = None
    if payers:
        nets = sorted(per_payer["net"].to_list(), reverse=True)
        total = sum(nets)
        top = sum(nets[:max(1, -(-payers // 10))]) / total if total else None
        # payers seen for 60 days after their first purchase (all of them if none is)
        seen = per_payer.filter(pl.col("first") <= _minus_days(last, 60))
        seen = seen if seen.height else per_payer
        again = paid.join(seen.select("account", "first"), on="account").filter(
            (pl.col("day") - pl.col("first")).dt.total_days() <= 60).group_by("account").len()
        repeat = again.filter(pl.col("len") >= 2).height / seen.height
    return Facts(ret, conversion, top, repeat, payers, users.height)


def _minus_days(day: Any, k: int) -> Any:
    from datetime import timedelta

    return day - timedelta(days=k)


# -- the overview -----------------------------------------------------------------------------
class Headline(NamedTuple):
    """One headline figure: ``value`` on the latest ``day`` and ``change`` from the day
    before (None on the first day). ``unit``: "COIN", "cents", "users" or "trades"."""

    name: str
    value: int
    change: int | None
    unit: str
    day: Any


def headlines(con: Con, run_id: str, until: Any = None) -> list[Headline]:
    """Supply, issued, burned, net revenue, active users and trades on the latest day
    with a journal entry (up to ``until`` when given), each with its change from the
    previous day."""
    first, last = days(con, run_id)
    if last is None:
        return []
    if until is not None and first <= until < last:
        last = until
    prev = _minus_days(last, 1)
    sup = supply_daily(con, run_id, "COIN")
    rev = revenue_daily(con, run_id)
    act = daily_active(con, run_id)
    trades = _df(con, "SELECT time::DATE AS day, count(*) AS n FROM trades WHERE run_id = ? GROUP BY ALL", [run_id])

    def on(df: pl.DataFrame, col: str, day: Any) -> int:
        hit = df.filter(pl.col("day") == day)[col].to_list() if df.height else []
        return int(hit[0]) if hit else 0

    def supply_at(day: Any) -> int:
        hit = sup.filter(pl.col("day") <= day)["supply"].to_list() if sup.height else []
        return int(hit[-1]) if hit else 0

    has_prev = first <= prev
    out = [Headline("Supply", supply_at(last), supply_at(last) - supply_at(prev) if has_prev else None, "COIN", last)]
    for name, df, col, unit in (("Issued", sup, "issued", "COIN"), ("Burned", sup, "burned", "COIN"),
                                ("Net revenue", rev, "net", "cents"), ("Active users", act, "active", "users"),
                                ("Trades", trades, "n", "trades")):
        v = on(df, col, last)
        out.append(Headline(name, v, v - on(df, col, prev) if has_prev else None, unit, last))
    return out

