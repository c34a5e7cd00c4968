"""The ledger's domain model: immutable value types, nothing else.

Amounts are always ``int`` in the asset's minor unit (``scale`` decimal places).
Types are NamedTuples rather than dataclasses because the in-memory store creates
millions of them in a simulation and tuple construction is several times cheaper.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "ADDRESS_RE",
    "BURN",
    "ESCROW",
    "MINT",
    "Asset",
    "Entry",
    "EntryType",
    "HistoryItem",
    "Hold",
    "HoldAction",
    "HoldStatus",
    "Posting",
    "Supply",
    "Transaction",
    "TransferRequest",
    "user_account",
]

# System accounts every ledger has. The mint may go negative: issued = -balance(MINT).
MINT = "system:mint"
BURN = "system:burn"
# Funds under a LOCKED hold sit here, so holds are journalled like any other movement
# and `check` can prove balance(ESCROW, asset) == sum of LOCKED holds in that asset.
ESCROW = "system:escrow"

ADDRESS_RE = re.compile(r"^[a-z][a-z0-9_]*:[A-Za-z0-9_.:@\-]{1,120}$")


def user_account(user_id: str) -> str:
    """The account address of an app user."""
    return f"user:{user_id}"


class EntryType(StrEnum):
    """Why money moved. Members compare equal to their string values."""

    # earnings (seeds' CreditEventType)
    GUEST_INITIAL = "GUEST_INITIAL"
    SIGNUP_BONUS = "SIGNUP_BONUS"
    NEWSLETTER_BONUS = "NEWSLETTER_BONUS"
    DAILY_LOGIN = "DAILY_LOGIN"
    STREAK_BONUS = "STREAK_BONUS"
    # spending
    VOTE_SPENT = "VOTE_SPENT"
    DEEP_ANALYSIS_UNLOCK = "DEEP_ANALYSIS_UNLOCK"
    CLAIM_PROPOSAL_DEPOSIT = "CLAIM_PROPOSAL_DEPOSIT"
    TOURNAMENT_CREATION = "TOURNAMENT_CREATION"
    BELT_CHALLENGE_ENTRY = "BELT_CHALLENGE_ENTRY"
    # payments
    COIN_PURCHASE = "COIN_PURCHASE"
    COIN_PURCHASE_BONUS = "COIN_PURCHASE_BONUS"
    COIN_PURCHASE_REFUND = "COIN_PURCHASE_REFUND"
    REVENUE = "REVENUE"
    REVENUE_REFUND = "REVENUE_REFUND"
    # payouts and pools
    STAKE = "STAKE"
    STAKE_PAYOUT = "STAKE_PAYOUT"
    STAKE_REFUND = "STAKE_REFUND"
    BOUNTY_PAYOUT = "BOUNTY_PAYOUT"
    CHALLENGE_PAYOUT = "CHALLENGE_PAYOUT"
    HOUSE_FEE_BURN = "HOUSE_FEE_BURN"
    DUST_BURN = "DUST_BURN"
    # system
    ADMIN_GRANT = "ADMIN_GRANT"
    TRANSFER = "TRANSFER"
    HOLD_LOCK = "HOLD_LOCK"
    HOLD_RELEASE = "HOLD_RELEASE"
    HOLD_RETURN = "HOLD_RETURN"
    HOLD_FORFEIT = "HOLD_FORFEIT"
    # a simulated ledger's opening: a forecast starts from a source's balances (sim/forecast.py)
    OPENING_BALANCE = "OPENING_BALANCE"
    # brand coins and market
    LAUNCH = "LAUNCH"
    EARNED = "EARNED"
    AIRDROP = "AIRDROP"
    TRADE = "TRADE"
    FEE = "FEE"
    FEE_BURN = "FEE_BURN"
    REDEEM_BURN = "REDEEM_BURN"
    VESTING = "VESTING"
    BUYBACK = "BUYBACK"
    CURVE_MINT = "CURVE_MINT"
    CURVE_BURN = "CURVE_BURN"


class HoldStatus(StrEnum):
    LOCKED = "LOCKED"
    RELEASED = "RELEASED"
    FORFEITED = "FORFEITED"
    VOIDED = "VOIDED"


class Asset(NamedTuple):
    """A unit of account. ``scale`` is the number of decimal places of one minor unit
    (COIN: 0, USD: 2, so 499 USD minor units are $4.99)."""

    code: str
    scale: int = 0
    name: str = ""


class Posting(NamedTuple):
    """One movement of ``amount`` (> 0, minor units) of ``asset`` between two accounts.
    ``entry_type`` overrides the transaction's type for this leg (a trade's fee leg)."""

    from_account: str
    to_account: str
    asset: str
    amount: int
    entry_type: str | None = None


class HoldAction(NamedTuple):
    """What a transaction does to a hold, validated atomically with its postings.

    ``kind`` is ``lock`` (creates the hold: one posting account -> ESCROW of ``amount``);
    ``release``/``void``/``forfeit``, whose legs out of ESCROW must move exactly the
    hold's amount and end it; or ``capture``, whose legs out of ESCROW take part of it
    (a partial fill) and leave the rest LOCKED. Legs not out of ESCROW may ride along
    (the other side of a trade). ``amount`` on a Hold is what is still locked."""

    kind: str
    hold_id: str
    account: str = ""
    asset: str = ""
    amount: int = 0
    expires_at: datetime | None = None


class TransferRequest(NamedTuple):
    """An atomic group of postings: all apply, or none do.

    ``idempotency_key``: a second request with the same key and the same payload
    returns the first result; with a different payload it is a conflict.

    ``clawback``: a refund clawback (entry type COIN_PURCHASE_REFUND, no hold) may take
    coins back from a frozen account into the mint or the burn account, in this one
    atomic request; the engine honours the flag for nothing else. A request built with
    ``tuple.__new__`` from eight values (no flag) is not a clawback."""

    postings: tuple[Posting, ...]
    entry_type: str
    idempotency_key: str | None = None
    ref_type: str | None = None
    ref_id: str | None = None
    metadata: dict[str, Any] | None = None
    note: str | None = None
    hold: HoldAction | None = None
    clawback: bool = False


class Entry(NamedTuple):
    """An immutable journal row: one posting with both sides' balances around it."""

    id: int
    tx_id: str
    time: datetime
    entry_type: str
    asset: str
    amount: int
    from_account: str
    to_account: str
    from_before: int
    from_after: int
    to_before: int
    to_after: int
    ref_type: str | None
    ref_id: str | None
    idempotency_key: str | None
    metadata: dict[str, Any] | None
    note: str | None


class Transaction(NamedTuple):
    """The result of an applied request. ``replayed`` is True when an idempotent
    retry returned this instead of applying anything."""

    id: str
    time: datetime
    entry_type: str
    entries: tuple[Entry, ...]
    idempotency_key: str | None = None
    hold_id: str | None = None
    replayed: bool = False


class Hold(NamedTuple):
    """Funds of ``account`` locked in escrow until released, voided or forfeited."""

    id: str
    account: str
    asset: str
    amount: int
    status: str
    created_at: datetime
    expires_at: datetime | None = None
    settled_at: datetime | None = None
    ref_type: str | None = None
    ref_id: str | None = None


class Supply(NamedTuple):
    """Issuance figures of one asset: issued = -balance(MINT), burned = balance(BURN)."""

    asset: str
    issued: int
    burned: int

    @property
    def circulating(self) -> int:
        return self.issued - self.burned


class HistoryItem(NamedTuple):
    """One journal row as seen by one account (the seeds' CreditEvent view):
    ``amount`` is signed, + when the account received, - when it paid."""

    entry_id: int
    tx_id: str
    time: datetime
    entry_type: str
    asset: str
    amount: int
    balance_before: int
    balance_after: int
    counterparty: str
    ref_type: str | None
    ref_id: str | None
    metadata: dict[str, Any] | None
    note: str | None
