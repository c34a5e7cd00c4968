"""Belt challenges and tournament creation: coin sinks priced by the config.

A challenger's entry fee (``entry_fee_bps_of_belt_value`` of the belt's value, clamped
to ``entry_fee_min..entry_fee_max``) is held in escrow when the challenge opens. On the
result one atomic transaction splits it: winner ``winner_bps``, loser ``loser_bps``
(both floored), platform the rest, so rounding lands with the platform and nothing
is lost. A cancelled challenge returns the fee. Creating a tournament costs
``tournaments.creation_cost``, paid to the platform.

The challenge id is the caller's; every step is keyed by it, so retries are safe.
"""

from __future__ import annotations

from typing import NamedTuple

from ledger.errors import InvalidRequest
from ledger.ledger import Ledger
from ledger.model import ESCROW, EntryType, Hold, HoldStatus, Posting, Transaction, user_account

from .config import BPS, EconomyConfig
from .errors import PoolStateError
from .rules import PLATFORM

__all__ = ["ChallengeSplit", "Challenges", "split_entry_fee"]


class ChallengeSplit(NamedTuple):
    winner: int
    loser: int
    platform: int


def split_entry_fee(fee: int, winner_bps: int, loser_bps: int) -> ChallengeSplit:
    winner = fee * winner_bps // BPS
    loser = fee * loser_bps // BPS
    return ChallengeSplit(winner, loser, fee - winner - loser)


class Challenges:
    def __init__(self, ledger: Ledger, config: EconomyConfig) -> None:
        self.ledger = ledger
        self.config = config

    def entry_fee(self, belt_value: int) -> int:
        """The fee for challenging a belt worth ``belt_value`` coins."""
        if type(belt_value) is not int or belt_value < 0:
            raise InvalidRequest(f"belt value must be an integer >= 0, got {belt_value!r}")
        c = self.config.challenges
        return min(max(belt_value * c.entry_fee_bps_of_belt_value // BPS, c.entry_fee_min), c.entry_fee_max)

    def open(self, challenge_id: str, challenger: str, belt_value: int) -> Hold:
        """Hold the challenger's entry fee; returns the hold (its id settles the challenge)."""
        fee = self.entry_fee(belt_value)
        return self.ledger.lock(user_account(challenger), fee, key=f"challenge:{challenge_id}:entry",
                                ref_type="belt_challenge", ref_id=challenge_id,
                                entry_type=EntryType.BELT_CHALLENGE_ENTRY,
                                metadata={"belt_value": belt_value})

    def settle(self, hold_id: str, winner: str, loser: str) -> Transaction:
        """Split the held fee between winner, loser and platform in one transaction."""
        hold = self.ledger.get_hold(hold_id)
        if hold.ref_type != "belt_challenge":
            raise InvalidRequest(f"hold {hold_id!r} is not a belt challenge entry")
        if winner == loser or user_account(winner) != hold.account and user_account(loser) != hold.account:
            raise InvalidRequest("winner and loser must differ and one of them must be the challenger")
        c = self.config.challenges
        split = split_entry_fee(hold.amount, c.winner_bps, c.loser_bps)
        legs = [Posting(ESCROW, to, "COIN", amount, etype) for to, amount, etype in (
            (user_account(winner), split.winner, EntryType.CHALLENGE_PAYOUT),
            (user_account(loser), split.loser, EntryType.CHALLENGE_PAYOUT),
            (PLATFORM, split.platform, EntryType.FEE),
        ) if amount > 0]
        return self.ledger.capture(hold_id, legs, settle=True, entry_type=EntryType.CHALLENGE_PAYOUT,
                                   key=f"challenge:{hold.ref_id}:settle",
                                   metadata={"winner": winner, "loser": loser})

    def cancel(self, hold_id: str) -> Hold:
        hold = self.ledger.get_hold(hold_id)
        if hold.status != HoldStatus.LOCKED:
            raise PoolStateError(f"challenge hold {hold_id!r} is {hold.status}")
        return self.ledger.void(hold_id, key=f"challenge:{hold.ref_id}:cancel")

    def create_tournament(self, tournament_id: str, creator: str) -> Transaction | None:
        """Charge the creator the tournament creation cost (once per tournament)."""
        cost = self.config.tournaments.creation_cost
        if cost == 0:
            return None
        return self.ledger.transfer(user_account(creator), PLATFORM, cost, "COIN", EntryType.TOURNAMENT_CREATION,
                                    key=f"tournament:{tournament_id}:creation", ref_type="tournament",
                                    ref_id=tournament_id)
