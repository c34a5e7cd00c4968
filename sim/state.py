"""The state of a warehouse source at the end of a day: what a forecast starts from.

`read_state(root, source, at_day)` replays a source's journal (``entries``) up to the end
of ``at_day`` (UTC) and reads, as of that moment:

- every account's balance in every asset, system accounts included (the mint's negative
  balance is what was issued, the burn account's what was burned), so a forecast's
  supply continues the source's;
- every app user's history: when they joined (their GUEST_INITIAL credit), their
  sessions (days with a DAILY_LOGIN credit), the last one and the streak ending on it,
  purchases and what they paid, and per active day the rewards credited and the actions
  done (votes, unlocks, stakes, challenges): the facts the behaviour model's
  satisfaction is made of;
- the brand coins (from their LAUNCH: seller, max supply, vesting) with their last trade
  price, and their holders (the balances of the coin's asset);
- the open orders (their hold was locked before the end of the day and not settled by
  then; the remaining quantity is the quantity less the fills traded before it) and the
  open pool stakes and belt challenges (holds with ref_type ``pool`` /
  ``belt_challenge``);
- the arrival rate of new users over the last `ARRIVAL_WINDOW_DAYS` days;
- the accounts present (any journal entry before the cut: agents with no arrival reward,
  such as traders, included) and the payments created before the cut, each with its
  status at the cut (paid then, or not paid), so a resumed economy knows who already
  used a promo or a first-purchase offer.

The source is production (``prod``) or a simulation run id; both have the same layout
(sim/warehouse.py). Everything here is read-only and integer where it is money.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ledger.economy.payment_store import PaymentRecord, PaymentStatus

__all__ = [
    "ARRIVAL_WINDOW_DAYS", "ActiveDay", "CoinState", "OpenHold", "OpenOrder", "SourceState", "StateError",
    "UserHistory", "read_state", "source_days",
]

# Days over which the arrival rate is measured: two weeks smooth the weekly cycle and
# still follow a trend (assumption; shorter sources use what they have after day 1,
# whose launch-day burst is no rate).
ARRIVAL_WINDOW_DAYS = 14
REWARDS = ("GUEST_INITIAL", "SIGNUP_BONUS", "NEWSLETTER_BONUS", "DAILY_LOGIN", "STREAK_BONUS")
ACTIONS = ("VOTE_SPENT", "DEEP_ANALYSIS_UNLOCK")
ACTIVITY = ("VOTE_SPENT", "DEEP_ANALYSIS_UNLOCK", "STAKE", "BELT_CHALLENGE_ENTRY", "COIN_PURCHASE")
# Simulated agents that are not app users (their roles are only known in simulated sources).
NOT_APP_USERS = ("ring", "sybil", "seller", "shopper", "trader", "whale", "follower")
ESCROW = "system:escrow"


class StateError(ValueError):
    """A source or a day a state cannot be read from; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class ActiveDay:
    """One day a user was active, event by event as the behaviour model feels them: the
    rewards per event (the arrival's credits together, then the session's login and
    streak credits together), the actions done, whether it was a session (a daily login),
    the COIN balance at the end of the day, the paid checkouts that day and the bets
    (pool stakes and belt challenges) settled that day, each its net coins won (> 0) or
    lost (< 0)."""

    day: date
    rewards: tuple[int, ...]
    done: int
    session: bool = False
    balance: int = 0
    bets: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class UserHistory:
    """An app user at the end of the state's day. ``sessions``: days with a daily login;
    ``streak``: consecutive login days ending on ``last_session``; ``spent_cents``: paid
    checkouts; ``login_days`` / ``streak_days``: the last month's credit days (the rules'
    streak facts); ``activity``: entries the anti-sybil activity rule counts."""

    account: str
    role: str | None
    joined: datetime
    sessions: int
    last_session: date | None
    streak: int
    purchases: int
    spent_cents: int
    bettor: bool
    login_days: frozenset[date]
    streak_days: frozenset[date]
    activity: int
    days: tuple[ActiveDay, ...]

    @property
    def uid(self) -> str:
        return self.account.split(":", 1)[1]


@dataclass(frozen=True, slots=True)
class CoinState:
    """A brand coin: its launch facts and the last trade price before the state's end."""

    symbol: str
    name: str
    seller: str | None
    max_supply: int
    initial_price: int
    launched_at: datetime
    allocation: int
    vesting_days: int
    price: int


@dataclass(frozen=True, slots=True)
class OpenOrder:
    order_id: int
    symbol: str
    account: str
    side: str
    price: int
    remaining: int
    tif: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class OpenHold:
    """A hold still locked at the end of the day (an order, a pool stake, a challenge)."""

    hold_id: str
    account: str
    asset: str
    amount: int
    ref_type: str | None
    ref_id: str | None


@dataclass(frozen=True)
class SourceState:
    """A source at the end of ``day`` (``at`` is the next midnight, UTC)."""

    source: str
    day: date
    first_day: date
    balances: dict[tuple[str, str], int]
    allow_negative: frozenset[str]
    frozen: frozenset[str]
    users: tuple[UserHistory, ...]
    coins: tuple[CoinState, ...]
    open_orders: tuple[OpenOrder, ...]
    open_holds: tuple[OpenHold, ...]
    arrivals_per_day: float
    totals: dict[str, int] = field(default_factory=dict)
    present: frozenset[str] = frozenset()
    payments: tuple[PaymentRecord, ...] = ()

    @property
    def at(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), time(), UTC)

    def balance(self, account: str, asset: str = "COIN") -> int:
        return self.balances.get((account, asset), 0)

    def holders(self, asset: str) -> dict[str, int]:
        """Accounts with a positive balance of ``asset`` (escrow and system accounts included)."""
        return {a: b for (a, s), b in self.balances.items() if s == asset and b > 0}

    def open_pools(self) -> dict[str, list[OpenHold]]:
        out: dict[str, list[OpenHold]] = defaultdict(list)
        for h in self.open_holds:
            if h.ref_type == "pool" and h.ref_id:
                out[h.ref_id].append(h)
        return dict(out)


def _glob(root: Path, table: str, run_id: str) -> str:
    return str(root / table / f"run_id={run_id}" / "*.parquet").replace("'", "''")


def _has(root: Path, table: str, run_id: str) -> bool:
    return any((root / table / f"run_id={run_id}").glob("*.parquet"))


def _connect(root: Path, run_id: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    con.execute("SET TimeZone = 'UTC'")
    for table in ("entries", "accounts", "payments", "holds", "orders", "trades", "runs"):
        if _has(root, table, run_id):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{_glob(root, table, run_id)}', "
                        "union_by_name = true)")
        else:
            from .warehouse import SCHEMAS

            cols = ", ".join(f'NULL::{_duck(f.type)} AS "{f.name}"' for f in SCHEMAS[table])
            con.execute(f"CREATE VIEW {table} AS SELECT {cols} WHERE false")
    return con


def _duck(t: Any) -> str:
    s = str(t)
    return {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
            "date32[day]": "DATE"}.get(s, "TIMESTAMPTZ")


def source_days(root: str | Path, source: str) -> tuple[date, date]:
    """The first and last UTC day with journal entries in ``source``."""
    root = Path(root)
    if not _has(root, "entries", source):
        raise StateError(f"no warehouse source {source!r} under {root}: expected 'prod' (run `coinlab export`) "
                         "or a run id with an entries partition")
    con = _connect(root, source)
    first, last = con.execute("SELECT min(time)::DATE, max(time)::DATE FROM entries").fetchall()[0]
    con.close()
    if first is None:
        raise StateError(f"source {source!r} has no journal entries")
    return first, last


def _order(r: Any) -> OpenOrder:
    expires = r[7].replace(tzinfo=UTC) if r[7] is not None else None
    return OpenOrder(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), r[6], expires)


def _naive(col: str) -> str:
    """A TIMESTAMPTZ column as a naive UTC timestamp (DuckDB hands aware ones over via pytz)."""
    return f"CAST({col} AT TIME ZONE 'UTC' AS TIMESTAMP)"


def _streak(days: list[date]) -> int:
    """Consecutive days ending on the last of ``days`` (sorted, distinct)."""
    n = 0
    for a, b in zip(reversed(days), reversed([None, *days[:-1]]), strict=True):
        n += 1
        if b is None or (a - b).days != 1:
            break
    return n


def read_state(root: str | Path, source: str = "prod", at_day: date | None = None) -> SourceState:
    """The state of ``source`` at the end of ``at_day`` (default: its last day)."""
    root = Path(root)
    first, last = source_days(root, source)
    day = last if at_day is None else at_day
    if not first <= day <= last:
        raise StateError(f"day {day} is outside source {source!r}'s days {first} .. {last}")
    cut = datetime.combine(day + timedelta(days=1), time(), UTC)
    con = _connect(root, source)
    try:
        return _read(con, source, first, day, cut)
    finally:
        con.close()


def _read(con: duckdb.DuckDBPyConnection, source: str, first: date, day: date, cut: datetime) -> SourceState:
    q = con.execute

    balances = {(a, s): int(b) for a, s, b in q("""
        SELECT account, asset, sum(delta)::BIGINT FROM (
            SELECT to_account AS account, asset, amount AS delta FROM entries WHERE time < ?1
            UNION ALL SELECT from_account, asset, -amount FROM entries WHERE time < ?1)
        GROUP BY ALL HAVING sum(delta) <> 0""", [cut]).fetchall()}
    flags = q("SELECT account, bool_or(allow_negative), bool_or(frozen), any_value(role) FROM accounts "
              "GROUP BY account").fetchall()
    allow_negative = frozenset(a for a, neg, _, _ in flags if neg)
    frozen = frozenset(a for a, _, fz, _ in flags if fz)
    roles = {a: r for a, _, _, r in flags}

    users = _users(q, cut, roles)
    coins = _coins(q, cut)
    # What a hold still locked at the cut: its escrow entries (they carry the hold's ref)
    # before the cut, where the ref names one hold; a pool's stakes share the pool's ref
    # and are never partly taken, so theirs is the amount locked.
    holds = tuple(OpenHold(*r) for r in q(f"""
        WITH esc AS (
            SELECT ref_type, ref_id, asset,
                   sum(CASE WHEN to_account = '{ESCROW}' THEN amount ELSE -amount END)::BIGINT AS locked
            FROM entries WHERE time < ?1 AND '{ESCROW}' IN (to_account, from_account) GROUP BY ALL),
        n AS (SELECT ref_type, ref_id, count(*) AS holds FROM holds GROUP BY ALL),
        open AS (
            SELECT h.hold_id, h.account, h.asset, h.ref_type, h.ref_id, h.created_at,
                   CASE WHEN n.holds = 1 THEN coalesce(e.locked, 0) ELSE h.amount END AS amount
            FROM holds h JOIN n ON n.ref_type IS NOT DISTINCT FROM h.ref_type AND n.ref_id IS NOT DISTINCT FROM h.ref_id
            LEFT JOIN esc e ON e.ref_type = h.ref_type AND e.ref_id = h.ref_id AND e.asset = h.asset
            WHERE h.created_at < ?1 AND (h.settled_at IS NULL OR h.settled_at >= ?1))
        SELECT hold_id, account, asset, amount, ref_type, ref_id FROM open WHERE amount > 0
        ORDER BY created_at, hold_id""", [cut]).fetchall())
    orders = tuple(_order(r) for r in q(f"""
        WITH fills AS (
            SELECT oid, sum(quantity)::BIGINT AS filled FROM (
                SELECT maker_order_id AS oid, quantity FROM trades WHERE time < ?1
                UNION ALL SELECT taker_order_id, quantity FROM trades WHERE time < ?1) GROUP BY oid)
        SELECT o.order_id, o.symbol, o.account, o.side, o.price, o.quantity - coalesce(f.filled, 0), o.tif,
               {_naive('o.expires_at')}
        FROM orders o LEFT JOIN fills f ON f.oid = o.order_id
        WHERE o.created_at < ?1 AND o.order_id::VARCHAR IN (
            SELECT ref_id FROM holds WHERE ref_type = 'order' AND created_at < ?1
              AND (settled_at IS NULL OR settled_at >= ?1))
          AND o.quantity > coalesce(f.filled, 0) AND (o.expires_at IS NULL OR o.expires_at > ?1)
        ORDER BY o.order_id""", [cut]).fetchall())

    # arrivals per day over the window before the cut, leaving out the source's first day
    window_start = max(first + timedelta(days=1), day - timedelta(days=ARRIVAL_WINDOW_DAYS - 1))
    n_days = (day - window_start).days + 1
    app = {u.account for u in users}
    joined_in = sum(1 for u in users if window_start <= u.joined.date() <= day) if app else 0
    rate = joined_in / n_days if n_days > 0 else 0.0
    totals = {"issued": -balances.get(("system:mint", "COIN"), 0), "burned": balances.get(("system:burn", "COIN"), 0)}
    present = frozenset(a for (a,) in q("""SELECT to_account FROM entries WHERE time < ?1
                                            UNION SELECT from_account FROM entries WHERE time < ?1""",
                                         [cut]).fetchall())
    return SourceState(source, day, first, balances, allow_negative, frozen, users, coins, orders, holds, rate,
                       totals, present, _payments(q, cut))


def _payments(q: Any, cut: datetime) -> tuple[PaymentRecord, ...]:
    """The checkouts created before the cut, as they stood at the cut: paid (paid before
    it) or not (failed, expired or still open then)."""
    rows = q(f"""SELECT session_id, user_id, package_id, price_cents, currency, base_coins, bonus_coins, promo_code,
                        {_naive('created_at')}, paid_at < ?1
                 FROM payments WHERE created_at < ?1 ORDER BY created_at, session_id""", [cut]).fetchall()
    out = []
    for sid, user, pkg, price, cur, base, bonus, promo, created, paid in rows:
        at = created.replace(tzinfo=UTC)
        out.append(PaymentRecord(sid, user, pkg, int(price), cur, int(base), int(bonus), promo,
                                 PaymentStatus.PAID if paid else PaymentStatus.EXPIRED, at, at))
    return tuple(out)


def _users(q: Any, cut: datetime, roles: dict[str, str | None]) -> tuple[UserHistory, ...]:
    joined = dict(q(f"SELECT to_account, {_naive('min(time)')} FROM entries WHERE entry_type = 'GUEST_INITIAL' AND time < ? "
                    "GROUP BY ALL", [cut]).fetchall())
    joined = {a: t.replace(tzinfo=UTC) for a, t in joined.items() if roles.get(a) not in NOT_APP_USERS}
    credit_days: dict[tuple[str, str], list[date]] = defaultdict(list)
    for a, t, d in q("""SELECT DISTINCT to_account, entry_type, time::DATE FROM entries
                       WHERE entry_type IN ('DAILY_LOGIN', 'STREAK_BONUS') AND time < ? ORDER BY 3""",
                     [cut]).fetchall():
        credit_days[(a, t)].append(d)
    purchases = dict(q("SELECT to_account, count(DISTINCT tx_id) FROM entries WHERE entry_type = 'COIN_PURCHASE' "
                       "AND time < ? GROUP BY ALL", [cut]).fetchall())
    spent = dict(q("SELECT 'user:' || user_id, sum(price_cents)::BIGINT FROM payments WHERE paid_at < ? "
                   "GROUP BY ALL", [cut]).fetchall())
    activity = dict(q(f"""SELECT CASE WHEN entry_type = 'COIN_PURCHASE' THEN to_account ELSE from_account END,
                          count(*) FROM entries WHERE entry_type IN {ACTIVITY} AND time < ? GROUP BY ALL""",
                      [cut]).fetchall())
    bettors = {a for (a,) in q("SELECT DISTINCT account FROM holds WHERE ref_type = 'pool' AND created_at < ?",
                               [cut]).fetchall()}
    rewards: dict[tuple[str, date], list[int]] = defaultdict(list)
    for a, d, _, amt in q(f"""SELECT to_account, time::DATE,
                                 entry_type IN ('DAILY_LOGIN', 'STREAK_BONUS') AS login, sum(amount)::BIGINT
                          FROM entries WHERE entry_type IN {REWARDS} AND from_account = 'system:mint' AND time < ?
                          GROUP BY ALL ORDER BY 1, 2, 3""", [cut]).fetchall():
        rewards[(a, d)].append(int(amt))
    # the COIN balance at the end of each day with entries, per user
    balance = {(a, d): int(b) for a, d, b in q("""
        WITH d AS (SELECT account, day, sum(delta) AS delta FROM (
                       SELECT to_account AS account, time::DATE AS day, amount AS delta FROM entries
                       WHERE asset = 'COIN' AND time < ?1 AND to_account LIKE 'user:%'
                       UNION ALL SELECT from_account, time::DATE, -amount FROM entries
                       WHERE asset = 'COIN' AND time < ?1 AND from_account LIKE 'user:%') GROUP BY ALL)
        SELECT account, day, sum(delta) OVER (PARTITION BY account ORDER BY day) FROM d""", [cut]).fetchall()}
    # bets settled before the cut: per bettor and pool (or challenge), what came back less
    # what was staked, on the day it was settled (a voided pool or a cancelled challenge
    # is no bet)
    bets: dict[tuple[str, date], list[int]] = defaultdict(list)
    for a, d, net in q("""
        WITH staked AS (SELECT from_account AS account, ref_type, ref_id, sum(amount) AS amount FROM entries
                        WHERE entry_type IN ('STAKE', 'BELT_CHALLENGE_ENTRY') AND time < ?1 GROUP BY ALL),
             settled AS (SELECT ref_type, ref_id, min(time)::DATE AS day FROM entries
                         WHERE time < ?1 AND (entry_type = 'CHALLENGE_PAYOUT'
                               OR (entry_type = 'HOLD_RELEASE' AND ref_type = 'pool' AND to_account LIKE 'pool:%'))
                         GROUP BY ALL),
             got AS (SELECT to_account AS account, ref_type, ref_id, sum(amount) AS amount FROM entries
                     WHERE entry_type IN ('STAKE_PAYOUT', 'CHALLENGE_PAYOUT') AND time < ?1 GROUP BY ALL)
        SELECT s.account, t.day, (coalesce(g.amount, 0) - s.amount)::BIGINT
        FROM staked s JOIN settled t ON t.ref_type = s.ref_type AND t.ref_id = s.ref_id
        LEFT JOIN got g ON g.account = s.account AND g.ref_type = s.ref_type AND g.ref_id = s.ref_id
        ORDER BY 1, 2, s.ref_id""", [cut]).fetchall():
        bets[(a, d)].append(int(net))
    done: dict[tuple[str, date], int] = {}
    for a, d, n in q(f"""SELECT account, day, count(*) FROM (
                            SELECT DISTINCT from_account AS account, time::DATE AS day, coalesce(ref_id, tx_id) AS what
                            FROM entries WHERE entry_type IN {ACTIONS} AND time < ?1
                            UNION ALL SELECT account, created_at::DATE, hold_id FROM holds
                            WHERE ref_type IN ('pool', 'belt_challenge') AND created_at < ?1) GROUP BY ALL""",
                     [cut]).fetchall():
        done[(a, d)] = int(n)
    per_user: dict[str, set[date]] = defaultdict(set)
    for a, d in list(rewards) + list(done) + list(bets):
        per_user[a].add(d)
    out = []
    month = (cut - timedelta(days=31)).date()
    for a in sorted(joined):
        logins = credit_days.get((a, "DAILY_LOGIN"), [])
        streaks = credit_days.get((a, "STREAK_BONUS"), [])
        role = roles.get(a)
        login_set = set(logins)
        days = tuple(ActiveDay(d, tuple(rewards.get((a, d), ())), done.get((a, d), 0), d in login_set,
                               balance.get((a, d), 0), tuple(bets.get((a, d), ())))
                     for d in sorted(per_user[a]))
        out.append(UserHistory(
            a, role, joined[a], len(logins), logins[-1] if logins else None, _streak(logins) if logins else 0,
            int(purchases.get(a, 0)), int(spent.get(a, 0)), role == "bettor" or (role is None and a in bettors),
            frozenset(d for d in logins if d >= month), frozenset(d for d in streaks if d >= month),
            int(activity.get(a, 0)), days))
    return tuple(out)


def _coins(q: Any, cut: datetime) -> tuple[CoinState, ...]:
    launches = q(f"SELECT asset, {_naive('time')}, amount, metadata FROM entries WHERE entry_type = 'LAUNCH' AND time < ? "
                 "ORDER BY id", [cut]).fetchall()
    prices = dict(q("SELECT symbol, arg_max(price, trade_id) FROM trades WHERE time < ? GROUP BY ALL",
                    [cut]).fetchall())
    out = []
    for sym, t, amount, meta in launches:
        m = json.loads(meta) if meta else {}
        initial = int(m.get("initial_price", 1))
        out.append(CoinState(sym, str(m.get("name", sym)), m.get("seller"), int(m.get("max_supply", amount)),
                             initial, t.replace(tzinfo=UTC), int(amount), int(m.get("vesting_days", 0)),
                             int(prices.get(sym, initial))))
    return tuple(out)
