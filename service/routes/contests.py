"""Belt challenges and tournaments: users pay entry fees (held until the result); the
app's server settles them."""

from __future__ import annotations

from fastapi import APIRouter

from ledger.economy.contests import BeltChallenge, Tournament

from ..deps import (
    Caller,
    ChallengeId,
    IdemKey,
    Server,
    StateDep,
    TournamentId,
    WriteUser,
    operation_id,
)
from ..problems import error_responses
from ..schemas import (
    ChallengeIn,
    ChallengeOut,
    ChallengeResultIn,
    PayoutIn,
    TournamentEntryOut,
    TournamentIn,
    TournamentOut,
)
from ..state import ServiceState

__all__ = ["router"]

router = APIRouter(tags=["contests"], generate_unique_id_function=operation_id)


def _challenge(state: ServiceState, ch: BeltChallenge) -> ChallengeOut:
    winner, loser, platform = state.challenges.split(ch)
    return ChallengeOut(id=ch.id, challenger_user_id=ch.challenger, belt_value=ch.belt_value, entry_fee=ch.entry_fee,
                        status=ch.status, winner_user_id=ch.winner, loser_user_id=ch.loser, winner_payout=winner,
                        loser_payout=loser, platform_fee=platform, tx_id=ch.tx_id, created_at=ch.created_at,
                        settled_at=ch.settled_at)


def _tournament(state: ServiceState, t: Tournament, prizes: list[int] | None = None) -> TournamentOut:
    held = [e for e in state.tournaments.entries(t.id) if e.hold_id is not None]
    return TournamentOut(id=t.id, title=t.title, creator_user_id=t.creator, entry_fee=t.entry_fee,
                         prize_bps=list(t.prize_bps), status=t.status, entrants=len(held), pot=t.entry_fee * len(held),
                         placements=list(t.placements) if t.placements is not None else None, prizes=prizes,
                         created_at=t.created_at, settled_at=t.settled_at)


# -- belt challenges ----------------------------------------------------------------------------
@router.post("/api/challenges", response_model=ChallengeOut, status_code=201, responses=error_responses(409))
def open_challenge(body: ChallengeIn, state: StateDep, user: WriteUser, idem: IdemKey) -> ChallengeOut:
    """Challenge for a belt: the acting user's entry fee (by the belt's value) is held.
    409 ``insufficient_funds`` with ``required`` (the fee) and ``balance``; 409
    ``idempotency_conflict`` if the id is another challenge's."""
    return _challenge(state, state.challenges.open(body.id, user, body.belt_value))


@router.get("/api/challenges/{challenge_id}", response_model=ChallengeOut, responses=error_responses(404))
def get_challenge(challenge_id: ChallengeId, state: StateDep, _: Caller) -> ChallengeOut:
    """One belt challenge."""
    return _challenge(state, state.challenges.get(challenge_id))


@router.post("/api/challenges/{challenge_id}/resolve", response_model=ChallengeOut,
             responses=error_responses(404, 409))
def resolve_challenge(challenge_id: ChallengeId, body: ChallengeResultIn, state: StateDep,
                      _: Server) -> ChallengeOut:
    """Settle a challenge (server to server): the fee goes 70% to the winner, 20% to
    the loser, the rest to the platform, in one transaction. 400: one of them must be
    the challenger; 409: already settled another way, or cancelled."""
    return _challenge(state, state.challenges.resolve(challenge_id, body.winner_user_id, body.loser_user_id))


@router.post("/api/challenges/{challenge_id}/cancel", response_model=ChallengeOut,
             responses=error_responses(404, 409))
def cancel_challenge(challenge_id: ChallengeId, state: StateDep, _: Server) -> ChallengeOut:
    """Call a challenge off (server to server): the fee returns to the challenger."""
    return _challenge(state, state.challenges.cancel(challenge_id))


# -- tournaments ------------------------------------------------------------------------------
@router.post("/api/tournaments", response_model=TournamentOut, status_code=201, responses=error_responses(409))
def create_tournament(body: TournamentIn, state: StateDep, user: WriteUser, idem: IdemKey) -> TournamentOut:
    """Create a tournament: the acting user pays the creation cost to the platform.
    409 ``insufficient_funds`` with ``required`` and ``balance``; 400: prize shares
    above 100%."""
    t = state.tournaments.create(body.id, body.title, user, body.entry_fee, body.prize_bps)
    return _tournament(state, t)


@router.get("/api/tournaments/{tournament_id}", response_model=TournamentOut, responses=error_responses(404))
def get_tournament(tournament_id: TournamentId, state: StateDep, _: Caller) -> TournamentOut:
    """One tournament, with its entrants so far."""
    return _tournament(state, state.tournaments.get(tournament_id))


@router.post("/api/tournaments/{tournament_id}/entries", response_model=TournamentEntryOut, status_code=201,
             responses=error_responses(404, 409))
def enter_tournament(tournament_id: TournamentId, state: StateDep, user: WriteUser,
                     idem: IdemKey) -> TournamentEntryOut:
    """Enter the acting user: the entry fee is held until the payout (entering again
    returns the entry). 409: insufficient funds (``required``, ``balance``), or the
    tournament is no longer open."""
    e = state.tournaments.enter(tournament_id, user)
    t = state.tournaments.get(tournament_id)
    return TournamentEntryOut(tournament_id=e.tournament_id, user_id=e.user_id, entry_fee=t.entry_fee,
                              created_at=e.created_at)


@router.post("/api/tournaments/{tournament_id}/payout", response_model=TournamentOut,
             responses=error_responses(404, 409))
def pay_out_tournament(tournament_id: TournamentId, body: PayoutIn, state: StateDep, _: Server) -> TournamentOut:
    """Pay the places (server to server): each its ``prizeBps`` share of the entry fees
    (floored); the rest goes to the platform. 400: placements that are not entrants,
    or not one per prize; 409: already paid otherwise, or cancelled."""
    t, prizes, _rest = state.tournaments.pay_out(tournament_id, body.placements)
    return _tournament(state, t, prizes)


@router.post("/api/tournaments/{tournament_id}/cancel", response_model=TournamentOut,
             responses=error_responses(404, 409))
def cancel_tournament(tournament_id: TournamentId, state: StateDep, _: Server) -> TournamentOut:
    """Call a tournament off (server to server): every entry fee returns."""
    return _tournament(state, state.tournaments.cancel(tournament_id))
