"""Belt challenges and tournaments as records a service can read back, on the ledger.

A belt challenge (`BeltChallenges`): the challenger's entry fee is held when the
challenge opens (`Challenges.open`: priced by the config, clamped to min..max); the
result splits it in one transaction (`Challenges.settle`: winner 70%, loser 20%,
platform the rest, by the config); a cancelled challenge returns it.

A tournament (`Tournaments`): its creator pays the creation cost to the platform
(`Challenges.create_tournament`); each entrant's entry fee is held; the payout moves
every entry into the tournament's account ``tournament:<id>`` and pays the places
their ``prize_bps`` share of the pot (floored; the rounding remainder goes to the
platform, so nothing is lost); a cancelled tournament returns every entry.

Every ledger step is keyed by the caller's id, so a retry or a re-run after a crash
finishes the job without paying twice; the record is written after the ledger step
it describes and re-written by the retry. Records live in a `SqlContestStore` (the
``belt_challenges``, ``tournaments`` and ``tournament_entries`` tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import IdempotencyConflict, InvalidRequest, LedgerError
from ledger.ledger import Ledger
from ledger.model import ESCROW, EntryType, HoldAction, Posting, TransferRequest, user_account

from .challenges import Challenges, split_entry_fee
from .config import BPS
from .errors import NotFound, PoolStateError
from .rules import PLATFORM

__all__ = ["BeltChallenge", "BeltChallenges", "SqlContestStore", "Tournament", "TournamentEntry", "Tournaments",
           "split_prizes", "tournament_account"]

OPEN, SETTLED, PAID, CANCELLED = "open", "settled", "paid", "cancelled"


class BeltChallenge(NamedTuple):
    """A challenge for a belt worth ``belt_value`` coins; ``entry_fee`` is held in
    ``hold_id`` until the result. ``status``: open, settled or cancelled."""

    id: str
    challenger: str
    belt_value: int
    entry_fee: int
    hold_id: str
    status: str
    winner: str | None
    loser: str | None
    tx_id: str | None
    created_at: datetime
    settled_at: datetime | None


class Tournament(NamedTuple):
    """``prize_bps``: each place's share of the entry fees, first place first.
    ``status``: open (taking entries), paid or cancelled; ``placements``: who was paid."""

    id: str
    title: str
    creator: str
    entry_fee: int
    prize_bps: tuple[int, ...]
    status: str
    placements: tuple[str, ...] | None
    created_at: datetime
    settled_at: datetime | None


class TournamentEntry(NamedTuple):
    tournament_id: str
    user_id: str
    hold_id: str | None  # None while its hold is being placed
    created_at: datetime


def tournament_account(tournament_id: str) -> str:
    return f"tournament:{tournament_id}"


def split_prizes(pot: int, prize_bps: Sequence[int], places: int) -> tuple[list[int], int]:
    """Each of the first ``places`` places' prize, floored, and the remainder (the
    shares of places nobody took, and rounding), which goes to the platform."""
    prizes = [pot * bps // BPS for bps in prize_bps[:places]]
    return prizes, pot - sum(prizes)


def _utc(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _check_id(kind: str, value: str) -> None:
    if not value or len(value) > 60 or not value.replace("_", "").replace("-", "").isalnum() or not value.isascii():
        raise InvalidRequest(f"{kind} id {value!r} must be 1-60 letters, digits, '_' or '-'")


class SqlContestStore:
    """Challenge and tournament records on one engine. A tournament's row is locked
    (FOR UPDATE on PostgreSQL; SQLite has one writer) while an entry is added or its
    hold attached, and ``settle`` changes the status only from open: an entry cannot
    slip in after the payout read the entries."""

    def __init__(self, engine: Engine) -> None:
        from .schema import belt_challenges, tournament_entries, tournaments

        self.engine = engine
        self.c, self.t, self.e = belt_challenges, tournaments, tournament_entries

    # -- challenges --------------------------------------------------------------
    def add_challenge(self, ch: BeltChallenge) -> BeltChallenge:
        """Insert; the record already there if the id exists (a retry)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.c).values(**ch._asdict()))
            return ch
        except IntegrityError:
            found = self.challenge(ch.id)
            assert found is not None
            return found

    def challenge(self, challenge_id: str) -> BeltChallenge | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.c).where(self.c.c.id == challenge_id)).first()
        if r is None:
            return None
        d = r._asdict()
        d["created_at"], d["settled_at"] = _utc(d["created_at"]), _utc(d["settled_at"])
        return BeltChallenge(**d)

    def settle_challenge(self, challenge_id: str, status: str, winner: str | None, loser: str | None,
                         tx_id: str | None, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(self.c).where(self.c.c.id == challenge_id, self.c.c.status == OPEN)
                         .values(status=status, winner=winner, loser=loser, tx_id=tx_id, settled_at=at))

    # -- tournaments --------------------------------------------------------------
    def _tournament(self, r: Any) -> Tournament:
        d = r._asdict()
        d["prize_bps"] = tuple(d["prize_bps"])
        d["placements"] = tuple(d["placements"]) if d["placements"] is not None else None
        d["created_at"], d["settled_at"] = _utc(d["created_at"]), _utc(d["settled_at"])
        return Tournament(**d)

    def add_tournament(self, t: Tournament) -> Tournament:
        row = t._asdict() | {"prize_bps": list(t.prize_bps), "placements": None}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.t).values(**row))
            return t
        except IntegrityError:
            found = self.tournament(t.id)
            assert found is not None
            return found

    def tournament(self, tournament_id: str) -> Tournament | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(self.t).where(self.t.c.id == tournament_id)).first()
        return None if r is None else self._tournament(r)

    def add_entry(self, tournament_id: str, user_id: str, at: datetime) -> TournamentEntry:
        """The user's entry (a new one only while the tournament is open)."""
        with self.engine.begin() as conn:
            r = conn.execute(select(self.t.c.status).where(self.t.c.id == tournament_id).with_for_update()).first()
            if r is None:
                raise NotFound(f"no tournament {tournament_id!r}", tournament_id=tournament_id)
            prior = conn.execute(select(self.e).where(self.e.c.tournament_id == tournament_id,
                                                      self.e.c.user_id == user_id)).first()
            if prior is not None:
                return TournamentEntry(prior.tournament_id, prior.user_id, prior.hold_id, _utc(prior.created_at))  # type: ignore[arg-type]
            if r.status != OPEN:
                raise PoolStateError(f"tournament {tournament_id!r} is {r.status}", tournament_id=tournament_id,
                                     status=r.status)
            conn.execute(insert(self.e).values(tournament_id=tournament_id, user_id=user_id, hold_id=None,
                                               created_at=at))
        return TournamentEntry(tournament_id, user_id, None, at)

    def attach_hold(self, tournament_id: str, user_id: str, hold_id: str) -> bool:
        """Record the entry's hold while the tournament is still open; False if it closed."""
        with self.engine.begin() as conn:
            status = conn.execute(select(self.t.c.status).where(self.t.c.id == tournament_id)
                                  .with_for_update()).scalar_one()
            if status != OPEN:
                return False
            conn.execute(update(self.e).where(self.e.c.tournament_id == tournament_id, self.e.c.user_id == user_id)
                         .values(hold_id=hold_id))
            return True

    def drop_entry(self, tournament_id: str, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.e.delete().where(and_(self.e.c.tournament_id == tournament_id,
                                                    self.e.c.user_id == user_id, self.e.c.hold_id.is_(None))))

    def entries(self, tournament_id: str) -> list[TournamentEntry]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(self.e).where(self.e.c.tournament_id == tournament_id)
                                .order_by(self.e.c.created_at, self.e.c.user_id)).all()
        return [TournamentEntry(r.tournament_id, r.user_id, r.hold_id, _utc(r.created_at)) for r in rows]  # type: ignore[arg-type]

    def settle_tournament(self, tournament_id: str, status: str, placements: Sequence[str] | None,
                          at: datetime) -> bool:
        """open -> ``status``; False if it was not open."""
        with self.engine.begin() as conn:
            return conn.execute(update(self.t).where(self.t.c.id == tournament_id, self.t.c.status == OPEN).values(
                status=status, placements=list(placements) if placements is not None else None,
                settled_at=at)).rowcount > 0


class BeltChallenges:
    def __init__(self, ledger: Ledger, challenges: Challenges, store: SqlContestStore) -> None:
        self.ledger, self.rules, self.store = ledger, challenges, store

    def get(self, challenge_id: str) -> BeltChallenge:
        ch = self.store.challenge(challenge_id)
        if ch is None:
            raise NotFound(f"no belt challenge {challenge_id!r}", challenge_id=challenge_id)
        return ch

    def open(self, challenge_id: str, challenger: str, belt_value: int) -> BeltChallenge:
        """Hold the challenger's entry fee (insufficient_funds, with required and balance,
        if they cannot pay it). The same id again returns the same challenge; another
        challenger or belt value under it is an idempotency conflict."""
        _check_id("challenge", challenge_id)
        known = self.store.challenge(challenge_id)
        if known is not None:
            if (known.challenger, known.belt_value) != (challenger, belt_value):
                raise IdempotencyConflict(f"challenge:{challenge_id}")
            return known
        hold = self.rules.open(challenge_id, challenger, belt_value)
        return self.store.add_challenge(BeltChallenge(challenge_id, challenger, belt_value, hold.amount, hold.id, OPEN,
                                                      None, None, None, self.ledger.clock(), None))

    def resolve(self, challenge_id: str, winner: str, loser: str) -> BeltChallenge:
        """Split the fee: winner, loser, platform (70/20/10 by default)."""
        ch = self.get(challenge_id)
        if ch.status == CANCELLED:
            raise PoolStateError(f"belt challenge {challenge_id!r} was cancelled", challenge_id=challenge_id)
        if ch.status == SETTLED and (ch.winner, ch.loser) != (winner, loser):
            raise PoolStateError(f"belt challenge {challenge_id!r} is already settled", challenge_id=challenge_id)
        tx = self.rules.settle(ch.hold_id, winner, loser)
        self.store.settle_challenge(challenge_id, SETTLED, winner, loser, tx.id, self.ledger.clock())
        return self.get(challenge_id)

    def cancel(self, challenge_id: str) -> BeltChallenge:
        """Return the fee to the challenger."""
        ch = self.get(challenge_id)
        if ch.status == SETTLED:
            raise PoolStateError(f"belt challenge {challenge_id!r} is already settled", challenge_id=challenge_id)
        if ch.status == OPEN:
            self.rules.cancel(ch.hold_id)
            self.store.settle_challenge(challenge_id, CANCELLED, None, None, None, self.ledger.clock())
        return self.get(challenge_id)

    def split(self, ch: BeltChallenge) -> tuple[int, int, int]:
        """What the fee pays (winner, loser, platform) under the current config."""
        c = self.rules.config.challenges
        return tuple(split_entry_fee(ch.entry_fee, c.winner_bps, c.loser_bps))  # type: ignore[return-value]


class Tournaments:
    def __init__(self, ledger: Ledger, challenges: Challenges, store: SqlContestStore) -> None:
        self.ledger, self.rules, self.store = ledger, challenges, store

    def get(self, tournament_id: str) -> Tournament:
        t = self.store.tournament(tournament_id)
        if t is None:
            raise NotFound(f"no tournament {tournament_id!r}", tournament_id=tournament_id)
        return t

    def create(self, tournament_id: str, title: str, creator: str, entry_fee: int,
               prize_bps: Sequence[int] = (BPS,)) -> Tournament:
        """Charge the creator the creation cost (once per tournament id), then record it."""
        _check_id("tournament", tournament_id)
        prizes = tuple(prize_bps)
        if type(entry_fee) is not int or entry_fee < 0:
            raise InvalidRequest(f"entry fee must be an integer >= 0, got {entry_fee!r}")
        if not prizes or any(type(b) is not int or b <= 0 for b in prizes) or sum(prizes) > BPS:
            raise InvalidRequest(f"prize shares must be positive basis points adding up to at most {BPS}")
        known = self.store.tournament(tournament_id)
        if known is not None:
            if (known.creator, known.title, known.entry_fee, known.prize_bps) != (creator, title, entry_fee, prizes):
                raise IdempotencyConflict(f"tournament:{tournament_id}")
            return known
        self.rules.create_tournament(tournament_id, creator)
        return self.store.add_tournament(Tournament(tournament_id, title, creator, entry_fee, prizes, OPEN, None,
                                                    self.ledger.clock(), None))

    def enter(self, tournament_id: str, user: str) -> TournamentEntry:
        """Hold the user's entry fee; entering twice returns the first entry."""
        t = self.get(tournament_id)
        entry = self.store.add_entry(tournament_id, user, self.ledger.clock())
        if entry.hold_id is not None or t.entry_fee == 0:
            return entry
        try:
            hold = self.ledger.lock(user_account(user), t.entry_fee, key=f"tournament:{tournament_id}:entry:{user}",
                                    ref_type="tournament", ref_id=tournament_id, entry_type=EntryType.STAKE)
        except LedgerError:
            self.store.drop_entry(tournament_id, user)
            raise
        if not self.store.attach_hold(tournament_id, user, hold.id):
            self.ledger.void(hold.id, key=f"tournament:{tournament_id}:late:{user}")
            self.store.drop_entry(tournament_id, user)
            raise PoolStateError(f"tournament {tournament_id!r} closed while entering", tournament_id=tournament_id)
        return entry._replace(hold_id=hold.id)

    def entries(self, tournament_id: str) -> list[TournamentEntry]:
        self.get(tournament_id)
        return self.store.entries(tournament_id)

    def pay_out(self, tournament_id: str, placements: Sequence[str]) -> tuple[Tournament, list[int], int]:
        """Pay the places (user ids, first place first; as many as there are prizes, or
        entrants if fewer). Returns the tournament, each place's prize and the remainder
        paid to the platform. Re-running with the same placements finishes the job."""
        t = self.get(tournament_id)
        places = tuple(placements)
        entries = {e.user_id: e for e in self.store.entries(tournament_id) if e.hold_id is not None or t.entry_fee == 0}
        if len(set(places)) != len(places) or any(p not in entries for p in places):
            raise InvalidRequest("placements must be distinct users who entered the tournament")
        if len(places) != min(len(t.prize_bps), len(entries)):
            raise InvalidRequest(f"name {min(len(t.prize_bps), len(entries))} placement(s): one per prize, "
                                 "or every entrant if there are fewer")
        if not self.store.settle_tournament(tournament_id, PAID, places, self.ledger.clock()):
            t = self.get(tournament_id)
            if t.status != PAID or t.placements != places:
                raise PoolStateError(f"tournament {tournament_id!r} is already {t.status}", tournament_id=tournament_id)
        acct = tournament_account(tournament_id)
        held = [e for e in entries.values() if e.hold_id is not None]
        self._settle_holds(tournament_id, held, acct)
        pot = t.entry_fee * len(held)
        prizes, rest = split_prizes(pot, t.prize_bps, len(places))
        legs = [Posting(acct, user_account(u), "COIN", p, EntryType.STAKE_PAYOUT) for u, p in zip(places, prizes, strict=True) if p]
        if rest:
            legs.append(Posting(acct, PLATFORM, "COIN", rest, EntryType.FEE))
        if legs:
            self.ledger.post(TransferRequest(tuple(legs), EntryType.STAKE_PAYOUT, f"tournament:{tournament_id}:payout",
                                             "tournament", tournament_id, {"placements": list(places), "pot": pot}))
        return self.get(tournament_id), prizes, rest

    def cancel(self, tournament_id: str) -> Tournament:
        """Return every entry fee (the creation cost stays paid)."""
        if not self.store.settle_tournament(tournament_id, CANCELLED, None, self.ledger.clock()):
            t = self.get(tournament_id)
            if t.status != CANCELLED:
                raise PoolStateError(f"tournament {tournament_id!r} is already {t.status}", tournament_id=tournament_id)
        self._settle_holds(tournament_id, [e for e in self.store.entries(tournament_id) if e.hold_id], None)
        return self.get(tournament_id)

    def _settle_holds(self, tournament_id: str, entries: list[TournamentEntry], to: str | None) -> None:
        kind = "release" if to is not None else "void"
        reqs = [TransferRequest((Posting(ESCROW, to or user_account(e.user_id), "COIN", self._held(e)),),
                                EntryType.HOLD_RELEASE if to else EntryType.STAKE_REFUND,
                                f"tournament:{tournament_id}:{kind}:{e.user_id}", "tournament", tournament_id, None, None,
                                HoldAction(kind, e.hold_id))  # type: ignore[arg-type]
                for e in entries]
        for r in self.ledger.post_many(reqs) if reqs else []:
            if isinstance(r, LedgerError):
                raise r

    def _held(self, e: TournamentEntry) -> int:
        assert e.hold_id is not None
        return self.ledger.get_hold(e.hold_id).amount
