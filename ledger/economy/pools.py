"""Parimutuel pools: users stake coins on an outcome; on resolution the winners share
the pot pro rata, after the house fee.

Stakes are ledger holds (ref_type ``pool``), so staked coins sit in escrow, not in the
pool, until it settles. Resolving moves every hold into the pool's account
``pool:<id>`` and then, in ONE transaction, pays each winner
``floor((pot - fee) * their stake / winning stakes)`` (STAKE_PAYOUT), burns the fee
``floor(pot * house_fee_bps / 10000)`` (HOUSE_FEE_BURN) and burns the rounding dust
(DUST_BURN): stakes in = payouts + burned, to the coin. Voiding (or resolving an
outcome nobody backed) returns every stake. Every step is keyed, so re-running a
resolution after a crash finishes it without paying twice.

Pool state (outcomes, status, stake caps, stakes) lives in a `PoolStore` (memory or SQL);
the per-user stake cap is checked and the stake reserved in one store transaction.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import count
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import InvalidRequest, LedgerError
from ledger.ledger import Ledger
from ledger.model import (
    BURN,
    ESCROW,
    EntryType,
    HoldAction,
    Posting,
    Transaction,
    TransferRequest,
    user_account,
)

from .config import BPS, EconomyConfig
from .errors import NotFound, PoolStateError, StakeCapExceeded

__all__ = [
    "MemoryPoolStore",
    "Pool",
    "PoolStore",
    "Pools",
    "Resolution",
    "SqlPoolStore",
    "Stake",
    "pool_account",
    "split_pot",
]

OPEN, RESOLVED, VOID = "open", "resolved", "void"


def pool_account(pool_id: str) -> str:
    return f"pool:{pool_id}"


class Pool(NamedTuple):
    """A pool. ``status``: open, resolved or void; the caps are copied from the config
    at creation so a later config change does not move the goalposts mid-pool."""

    id: str
    title: str
    outcomes: tuple[str, ...]
    status: str
    house_fee_bps: int
    min_stake: int
    max_stake_per_user: int
    created_at: datetime
    settled_at: datetime | None = None
    winning_outcome: str | None = None


class Stake(NamedTuple):
    """One stake; ``hold_id`` is None while its hold is being placed."""

    id: int
    pool_id: str
    user_id: str
    outcome: str
    amount: int
    hold_id: str | None
    key: str | None


class Resolution(NamedTuple):
    """How a pot was split: ``payouts`` per user; ``fee`` and ``dust`` were burned."""

    pool_id: str
    outcome: str | None
    pot: int
    payouts: dict[str, int]
    fee: int
    dust: int
    tx_id: str | None


def split_pot(stakes: Sequence[tuple[str, str, int]], outcome: str, house_fee_bps: int
              ) -> tuple[dict[str, int], int, int]:
    """Pure parimutuel split of (user, outcome, amount) stakes: (payouts, fee, dust).
    Nobody on ``outcome`` -> ({}, 0, 0): the caller returns the stakes instead."""
    pot = sum(a for _, _, a in stakes)
    backed: dict[str, int] = defaultdict(int)
    for user, o, amount in stakes:
        if o == outcome:
            backed[user] += amount
    winning = sum(backed.values())
    if winning == 0:
        return {}, 0, 0
    fee = pot * house_fee_bps // BPS
    distributable = pot - fee
    payouts = {u: distributable * a // winning for u, a in sorted(backed.items())}
    dust = distributable - sum(payouts.values())
    return {u: p for u, p in payouts.items() if p > 0}, fee, dust


# -- persistence -------------------------------------------------------------
class PoolStore(Protocol):
    def create(self, pool: Pool) -> None:
        """Insert; InvalidRequest if the id exists."""

    def get(self, pool_id: str) -> Pool | None: ...

    def settle(self, pool_id: str, status: str, outcome: str | None, at: datetime) -> bool:
        """open -> ``status``; False if the pool was not open."""

    def reserve_stake(self, pool_id: str, user_id: str, outcome: str, amount: int,
                      key: str | None) -> Stake:
        """Atomically: the pool is open, the user's stakes + amount <= the cap, then
        insert. With ``key``, a stake already made under it is returned instead."""

    def attach_hold(self, pool_id: str, stake_id: int, hold_id: str) -> bool:
        """Record the stake's hold, atomically with the pool still being open (the same
        lock `settle` takes); False if it closed, and the caller returns the hold."""

    def drop_stake(self, stake_id: int) -> None: ...

    def stakes(self, pool_id: str) -> list[Stake]: ...

    def pools(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Pool]:
        """Newest first, optionally only those in ``status``."""

    def user_stakes(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Stake]:
        """The user's stakes (with a hold) in every pool, newest first."""


def _check_reserve(pool: Pool | None, pool_id: str, user_id: str, amount: int, already: int) -> None:
    if pool is None:
        raise NotFound(f"no pool {pool_id!r}", pool_id=pool_id)
    if pool.status != OPEN:
        raise PoolStateError(f"pool {pool_id!r} is {pool.status}", pool_id=pool_id, status=pool.status)
    if already + amount > pool.max_stake_per_user:
        raise StakeCapExceeded(
            f"{user_id} would have {already + amount} staked in {pool_id!r}; the cap is {pool.max_stake_per_user}",
            staked=already, cap=pool.max_stake_per_user)


class MemoryPoolStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, Pool] = {}
        self._stakes: dict[int, Stake] = {}
        self._ids = count(1)

    def create(self, pool: Pool) -> None:
        with self._lock:
            if pool.id in self._pools:
                raise InvalidRequest(f"pool {pool.id!r} already exists")
            self._pools[pool.id] = pool

    def get(self, pool_id: str) -> Pool | None:
        return self._pools.get(pool_id)

    def settle(self, pool_id: str, status: str, outcome: str | None, at: datetime) -> bool:
        with self._lock:
            pool = self._pools.get(pool_id)
            if pool is None or pool.status != OPEN:
                return False
            self._pools[pool_id] = pool._replace(status=status, winning_outcome=outcome, settled_at=at)
            return True

    def reserve_stake(self, pool_id: str, user_id: str, outcome: str, amount: int,
                      key: str | None) -> Stake:
        with self._lock:
            mine = [s for s in self._stakes.values() if s.pool_id == pool_id and s.user_id == user_id]
            prior = next((s for s in mine if key is not None and s.key == key), None)
            if prior is not None:
                return prior
            _check_reserve(self._pools.get(pool_id), pool_id, user_id, amount, sum(s.amount for s in mine))
            stake = Stake(next(self._ids), pool_id, user_id, outcome, amount, None, key)
            self._stakes[stake.id] = stake
            return stake

    def attach_hold(self, pool_id: str, stake_id: int, hold_id: str) -> bool:
        with self._lock:
            if self._pools[pool_id].status != OPEN:
                return False
            self._stakes[stake_id] = self._stakes[stake_id]._replace(hold_id=hold_id)
            return True

    def drop_stake(self, stake_id: int) -> None:
        with self._lock:
            self._stakes.pop(stake_id, None)

    def stakes(self, pool_id: str) -> list[Stake]:
        return sorted((s for s in list(self._stakes.values()) if s.pool_id == pool_id), key=lambda s: s.id)

    def pools(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Pool]:
        pools = [p for p in list(self._pools.values()) if status is None or p.status == status]
        return sorted(pools, key=lambda p: (p.created_at, p.id), reverse=True)[offset:offset + limit]

    def user_stakes(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Stake]:
        mine = [s for s in list(self._stakes.values()) if s.user_id == user_id and s.hold_id is not None]
        return sorted(mine, key=lambda s: s.id, reverse=True)[offset:offset + limit]


class SqlPoolStore:
    """Pools in ``pools`` and ``pool_stakes`` (migration 0002). The pool row is locked
    (FOR UPDATE on PostgreSQL; SQLite has one writer) while a stake is reserved."""

    def __init__(self, engine: Engine) -> None:
        from .schema import pool_stakes, pools

        self.engine = engine
        self.p, self.s = pools, pool_stakes

    def _pool(self, r: Any) -> Pool:
        d = r._asdict()
        d["outcomes"] = tuple(d["outcomes"])
        for k in ("created_at", "settled_at"):
            v = d[k]
            if v is not None and v.tzinfo is None:  # SQLite drops the zone; all times are UTC
                d[k] = v.replace(tzinfo=UTC)
        return Pool(**d)

    def create(self, pool: Pool) -> None:
        row = pool._asdict()
        row["outcomes"] = list(pool.outcomes)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.p).values(**row))
        except IntegrityError:
            raise InvalidRequest(f"pool {pool.id!r} already exists") from None

    def get(self, pool_id: str) -> Pool | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.p).where(self.p.c.id == pool_id)).first()
        return None if r is None else self._pool(r)

    def settle(self, pool_id: str, status: str, outcome: str | None, at: datetime) -> bool:
        q = (update(self.p).where(self.p.c.id == pool_id, self.p.c.status == OPEN)
             .values(status=status, winning_outcome=outcome, settled_at=at))
        with self.engine.begin() as conn:
            return conn.execute(q).rowcount > 0

    def reserve_stake(self, pool_id: str, user_id: str, outcome: str, amount: int,
                      key: str | None) -> Stake:
        with self.engine.begin() as conn:
            r = conn.execute(select(self.p).where(self.p.c.id == pool_id).with_for_update()).first()
            if key is not None:
                prior = conn.execute(select(self.s).where(self.s.c.pool_id == pool_id,
                                                          self.s.c.key == key)).first()
                if prior is not None:
                    return Stake(**prior._asdict())
            already = conn.execute(select(func.coalesce(func.sum(self.s.c.amount), 0)).where(
                self.s.c.pool_id == pool_id, self.s.c.user_id == user_id)).scalar_one()
            _check_reserve(None if r is None else self._pool(r), pool_id, user_id, amount, int(already))
            sid = conn.execute(insert(self.s).values(
                pool_id=pool_id, user_id=user_id, outcome=outcome, amount=amount, hold_id=None, key=key
            ).returning(self.s.c.id)).scalar_one()
        return Stake(int(sid), pool_id, user_id, outcome, amount, None, key)

    def attach_hold(self, pool_id: str, stake_id: int, hold_id: str) -> bool:
        with self.engine.begin() as conn:
            status = conn.execute(select(self.p.c.status).where(self.p.c.id == pool_id)
                                  .with_for_update()).scalar_one()
            if status != OPEN:
                return False
            conn.execute(update(self.s).where(self.s.c.id == stake_id).values(hold_id=hold_id))
            return True

    def drop_stake(self, stake_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.s).where(self.s.c.id == stake_id))

    def stakes(self, pool_id: str) -> list[Stake]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.s).where(self.s.c.pool_id == pool_id).order_by(self.s.c.id))
            return [Stake(**r._asdict()) for r in rows]

    def pools(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Pool]:
        q = select(self.p).order_by(self.p.c.created_at.desc(), self.p.c.id.desc()).limit(limit).offset(offset)
        if status is not None:
            q = q.where(self.p.c.status == status)
        with self.engine.connect() as conn:
            return [self._pool(r) for r in conn.execute(q)]

    def user_stakes(self, user_id: str, *, limit: int = 50, offset: int = 0) -> list[Stake]:
        q = (select(self.s).where(self.s.c.user_id == user_id, self.s.c.hold_id.is_not(None))
             .order_by(self.s.c.id.desc()).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return [Stake(**r._asdict()) for r in conn.execute(q)]


# -- the service -------------------------------------------------------------
class Pools:
    def __init__(self, ledger: Ledger, config: EconomyConfig, store: PoolStore | None = None) -> None:
        self.ledger = ledger
        self.config = config
        self.store: PoolStore = store if store is not None else MemoryPoolStore()

    def create(self, pool_id: str, title: str, outcomes: Sequence[str], *,
               max_stake_per_user: int | None = None) -> Pool:
        if not pool_id or len(pool_id) > 60 or not pool_id.replace("_", "").replace("-", "").isalnum():
            raise InvalidRequest(f"pool id {pool_id!r} must be 1-60 letters, digits, '_' or '-'")
        outs = tuple(outcomes)
        if len(outs) < 2 or len(set(outs)) != len(outs) or not all(isinstance(o, str) and o for o in outs):
            raise InvalidRequest("a pool needs at least two distinct, non-empty outcomes")
        cfg = self.config.pools
        cap = cfg.max_stake_per_user if max_stake_per_user is None else max_stake_per_user
        if type(cap) is not int or cap < cfg.min_stake:
            raise InvalidRequest(f"max_stake_per_user must be an integer >= {cfg.min_stake}")
        pool = Pool(pool_id, title, outs, OPEN, cfg.house_fee_bps, cfg.min_stake, cap, self.ledger.clock())
        self.store.create(pool)
        return pool

    def get(self, pool_id: str) -> Pool:
        pool = self.store.get(pool_id)
        if pool is None:
            raise NotFound(f"no pool {pool_id!r}", pool_id=pool_id)
        return pool

    def pools(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Pool]:
        """Newest first, optionally only those open, resolved or void."""
        return self.store.pools(status=status, limit=limit, offset=offset)

    def user_stakes(self, user: str, *, limit: int = 50, offset: int = 0) -> list[Stake]:
        """The user's stakes in every pool, newest first."""
        return self.store.user_stakes(user, limit=limit, offset=offset)

    def stake(self, pool_id: str, user: str, outcome: str, amount: int, *, key: str | None = None) -> Stake:
        """Hold ``amount`` of the user's coins on ``outcome``. With ``key`` a retry returns
        the first stake."""
        pool = self.get(pool_id)
        if outcome not in pool.outcomes:
            raise InvalidRequest(f"{outcome!r} is not an outcome of pool {pool_id!r}: {list(pool.outcomes)}")
        if type(amount) is not int or amount < pool.min_stake:
            raise InvalidRequest(f"a stake must be an integer >= {pool.min_stake}, got {amount!r}")
        stake = self.store.reserve_stake(pool_id, user, outcome, amount, key)
        if stake.hold_id is not None:
            return stake
        try:
            hold = self.ledger.lock(user_account(user), amount, key=f"pool:{pool_id}:stake:{stake.id}",
                                    ref_type="pool", ref_id=pool_id, entry_type=EntryType.STAKE,
                                    metadata={"outcome": outcome, "stake_id": stake.id})
        except LedgerError:
            self.store.drop_stake(stake.id)
            raise
        if not self.store.attach_hold(pool_id, stake.id, hold.id):
            # The pool settled while this hold was being placed, so the split never saw
            # it (resolution only reads stakes with a hold): hand the coins back.
            self.ledger.void(hold.id, key=f"pool:{pool_id}:late:{stake.id}")
            self.store.drop_stake(stake.id)
            raise PoolStateError(f"pool {pool_id!r} closed while staking", pool_id=pool_id)
        return stake._replace(hold_id=hold.id)

    def resolve(self, pool_id: str, outcome: str) -> Resolution:
        """Pay the winners of ``outcome``; re-running after an interruption finishes the job."""
        pool = self.get(pool_id)
        if outcome not in pool.outcomes:
            raise InvalidRequest(f"{outcome!r} is not an outcome of pool {pool_id!r}")
        if not self.store.settle(pool_id, RESOLVED, outcome, self.ledger.clock()):
            pool = self.get(pool_id)
            if pool.status != RESOLVED or pool.winning_outcome != outcome:
                raise PoolStateError(f"pool {pool_id!r} is already {pool.status}", pool_id=pool_id)
        stakes = [s for s in self.store.stakes(pool_id) if s.hold_id is not None]
        payouts, fee, dust = split_pot([(s.user_id, s.outcome, s.amount) for s in stakes], outcome,
                                       pool.house_fee_bps)
        pot = sum(s.amount for s in stakes)
        if not payouts and pot:
            # Nobody backed the outcome (or every payout floored to 0): everyone gets their stake back.
            self._return_all(pool_id, stakes)
            return Resolution(pool_id, outcome, pot, {}, 0, 0, None)
        acct = pool_account(pool_id)
        self._settle_holds(pool_id, stakes, "release", acct)
        legs = [Posting(acct, user_account(u), "COIN", p, EntryType.STAKE_PAYOUT) for u, p in payouts.items()]
        if fee:
            legs.append(Posting(acct, BURN, "COIN", fee, EntryType.HOUSE_FEE_BURN))
        if dust:
            legs.append(Posting(acct, BURN, "COIN", dust, EntryType.DUST_BURN))
        tx: Transaction | None = None
        if legs:
            tx = self.ledger.post(TransferRequest(
                tuple(legs), EntryType.STAKE_PAYOUT, f"pool:{pool_id}:payout", "pool", pool_id,
                {"outcome": outcome, "pot": pot, "fee": fee, "dust": dust}))
        return Resolution(pool_id, outcome, pot, payouts, fee, dust, tx.id if tx else None)

    def void(self, pool_id: str) -> Resolution:
        """Cancel the pool: every stake goes back to its owner."""
        if not self.store.settle(pool_id, VOID, None, self.ledger.clock()) and self.get(pool_id).status != VOID:
            raise PoolStateError(f"pool {pool_id!r} is already {self.get(pool_id).status}", pool_id=pool_id)
        stakes = [s for s in self.store.stakes(pool_id) if s.hold_id is not None]
        self._return_all(pool_id, stakes)
        return Resolution(pool_id, None, sum(s.amount for s in stakes), {}, 0, 0, None)

    def _return_all(self, pool_id: str, stakes: list[Stake]) -> None:
        self._settle_holds(pool_id, stakes, "void", None)

    def _settle_holds(self, pool_id: str, stakes: list[Stake], kind: str, to: str | None) -> None:
        # One batch (one commit on SQL); keyed per stake, so a re-run replays what was done.
        reqs = []
        for s in stakes:
            assert s.hold_id is not None
            dest = to or user_account(s.user_id)
            etype = EntryType.HOLD_RELEASE if kind == "release" else EntryType.STAKE_REFUND
            reqs.append(TransferRequest(
                (Posting(ESCROW, dest, "COIN", s.amount),), etype, f"pool:{pool_id}:{kind}:{s.id}",
                "pool", pool_id, None, None, HoldAction(kind, s.hold_id)))
        for r in self.ledger.post_many(reqs) if reqs else []:
            if isinstance(r, LedgerError):
                raise r
