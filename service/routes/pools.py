"""Parimutuel pools: the app's server creates and resolves them; users stake and read."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from ledger.economy.pools import Pool, Stake

from ..deps import Caller, IdemKey, PoolId, ReadUser, Server, StateDep, WriteUser, operation_id
from ..problems import error_responses
from ..schemas import (
    PoolIn,
    PoolList,
    PoolOut,
    ResolutionOut,
    ResolveIn,
    StakeIn,
    StakeList,
    StakeOut,
    canonical_lower,
)

__all__ = ["router"]

router = APIRouter(tags=["pools"], generate_unique_id_function=operation_id)
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]


def _pool(p: Pool) -> PoolOut:
    return PoolOut(id=p.id, title=p.title, outcomes=list(p.outcomes), status=p.status, house_fee_bps=p.house_fee_bps,
                   min_stake=p.min_stake, max_stake_per_user=p.max_stake_per_user, created_at=p.created_at,
                   winning_outcome=p.winning_outcome)


def _stake(s: Stake) -> StakeOut:
    return StakeOut(id=s.id, pool_id=s.pool_id, user_id=s.user_id, outcome=s.outcome, amount=s.amount,
                    hold_id=s.hold_id)


@router.post("/api/pools", response_model=PoolOut, responses=error_responses(400))
def create_pool(body: PoolIn, state: StateDep, _: Server) -> PoolOut:
    """Open a pool (server to server). 400: the id exists, or the outcomes are not distinct."""
    return _pool(state.economy.pools.create(body.id, body.title, body.outcomes,
                                            max_stake_per_user=body.max_stake_per_user))


@router.get("/api/pools", response_model=PoolList)
def list_pools(state: StateDep, _: Caller, limit: Limit = 50, offset: Offset = 0,
               status: Annotated[Literal["open", "resolved", "void"] | None, BeforeValidator(canonical_lower),
                                 Query(description="only pools in this status (any case)")] = None) -> PoolList:
    """Pools, newest first, optionally only those open, resolved or void."""
    pools = state.economy.pools.pools(status=status, limit=limit, offset=offset)
    return PoolList(pools=[_pool(p) for p in pools], limit=limit, offset=offset)


# before /api/pools/{pool_id}, which would take "stakes" for a pool id
@router.get("/api/pools/stakes", response_model=StakeList)
def list_my_stakes(state: StateDep, user: ReadUser, limit: Limit = 50, offset: Offset = 0) -> StakeList:
    """The acting user's stakes in every pool, newest first."""
    stakes = state.economy.pools.user_stakes(user, limit=limit, offset=offset)
    return StakeList(stakes=[_stake(s) for s in stakes], limit=limit, offset=offset)


@router.get("/api/pools/{pool_id}", response_model=PoolOut, responses=error_responses(404))
def get_pool(pool_id: PoolId, state: StateDep, _: Caller) -> PoolOut:
    """One pool."""
    return _pool(state.economy.pools.get(pool_id))


@router.post("/api/pools/{pool_id}/stakes", response_model=StakeOut, responses=error_responses(404, 409))
def stake_on_pool(pool_id: PoolId, body: StakeIn, state: StateDep, user: WriteUser, idem: IdemKey) -> StakeOut:
    """Stake COIN on an outcome: held until the pool resolves. 400: not an outcome, or
    below the minimum; 409: insufficient funds (``required``, ``balance``), the
    per-user cap, or the pool is closed."""
    return _stake(state.economy.pools.stake(pool_id, user, body.outcome, body.amount, key=idem))


@router.post("/api/pools/{pool_id}/resolve", response_model=ResolutionOut, responses=error_responses(404, 409))
def resolve_pool(pool_id: PoolId, body: ResolveIn, state: StateDep, _: Server) -> ResolutionOut:
    """Pay the winners pro rata after the 3% house fee (burned); re-running with the
    same outcome finishes an interrupted resolution. 409: already settled otherwise."""
    r = state.economy.pools.resolve(pool_id, body.outcome)
    return ResolutionOut(pool_id=r.pool_id, outcome=r.outcome, pot=r.pot, payouts=r.payouts, fee=r.fee,
                         dust=r.dust, tx_id=r.tx_id)
