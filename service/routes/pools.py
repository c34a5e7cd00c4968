"""Parimutuel pools: the app's server creates and resolves them; users stake."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import IdemKey, Server, StateDep, WriteUser
from ..problems import error_responses
from ..schemas import PoolIn, PoolOut, ResolutionOut, ResolveIn, StakeIn, StakeOut

__all__ = ["router"]

router = APIRouter(tags=["pools"], responses=error_responses(400, 401, 403, 404, 409, 422))


@router.post("/api/pools", response_model=PoolOut)
def create_pool(body: PoolIn, state: StateDep, _: Server) -> PoolOut:
    p = state.economy.pools.create(body.id, body.title, body.outcomes, max_stake_per_user=body.max_stake_per_user)
    return PoolOut(id=p.id, title=p.title, outcomes=list(p.outcomes), status=p.status,
                   house_fee_bps=p.house_fee_bps, min_stake=p.min_stake, max_stake_per_user=p.max_stake_per_user,
                   created_at=p.created_at, winning_outcome=p.winning_outcome)


@router.post("/api/pools/{pool_id}/stakes", response_model=StakeOut)
def stake(pool_id: str, body: StakeIn, state: StateDep, user: WriteUser, idem: IdemKey) -> StakeOut:
    s = state.economy.pools.stake(pool_id, user, body.outcome, body.amount, key=idem)
    return StakeOut(id=s.id, pool_id=s.pool_id, user_id=s.user_id, outcome=s.outcome, amount=s.amount,
                    hold_id=s.hold_id)


@router.post("/api/pools/{pool_id}/resolve", response_model=ResolutionOut)
def resolve(pool_id: str, body: ResolveIn, state: StateDep, _: Server) -> ResolutionOut:
    r = state.economy.pools.resolve(pool_id, body.outcome)
    return ResolutionOut(pool_id=r.pool_id, outcome=r.outcome, pot=r.pot, payouts=r.payouts, fee=r.fee,
                         dust=r.dust, tx_id=r.tx_id)
