"""`Ledger`: the API every other package uses to move money.

It turns intentions (transfer, mint, burn, lock, release, ...) into TransferRequests and
hands them to a Store; the rules live in `engine.post`, persistence in the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .check import CheckReport, check_store
from .errors import HoldNotFound, InvalidRequest, LedgerError
from .model import (
    BURN,
    ESCROW,
    MINT,
    Asset,
    EntryType,
    HistoryItem,
    Hold,
    HoldAction,
    HoldStatus,
    Posting,
    Supply,
    Transaction,
    TransferRequest,
)
from .store import Store

__all__ = ["DEFAULT_ASSETS", "Ledger", "utcnow"]

_new = tuple.__new__

DEFAULT_ASSETS = (Asset("COIN", 0, "platform coin"), Asset("USD", 2, "US dollar"))
# Money that enters from outside (card payments) comes from accounts that may go negative.
EXTERNAL_ACCOUNTS = ("external:stripe",)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock
        for asset in DEFAULT_ASSETS:
            store.create_asset(asset)
        for address in (MINT, *EXTERNAL_ACCOUNTS):
            store.open_account(address, allow_negative=True)

    # -- setup ---------------------------------------------------------------
    def create_asset(self, code: str, scale: int = 0, name: str = "") -> Asset:
        if not code.isalnum() or not code.isupper() or not 1 <= len(code) <= 16:
            raise InvalidRequest(f"asset code must be 1-16 upper-case letters or digits, got {code!r}")
        if type(scale) is not int or not 0 <= scale <= 8:
            raise InvalidRequest(f"scale must be an integer 0..8, got {scale!r}")
        asset = Asset(code, scale, name)
        self.store.create_asset(asset)
        return self.store.assets()[code]

    def open_account(self, address: str, *, allow_negative: bool = False) -> None:
        self.store.open_account(address, allow_negative=allow_negative)

    def freeze(self, account: str, frozen: bool = True) -> None:
        self.store.set_frozen(account, frozen)

    # -- moving money --------------------------------------------------------
    def transfer(
        self,
        from_account: str,
        to_account: str,
        amount: int,
        asset: str = "COIN",
        entry_type: str = EntryType.TRANSFER,
        *,
        key: str | None = None,
        ref_type: str | None = None,
        ref_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> Transaction:
        # tuple.__new__ skips the NamedTuples' generated constructors: this is the
        # simulator's hottest call, and they cost as much as the posting itself.
        posting = _new(Posting, (from_account, to_account, asset, amount, None))
        request = _new(TransferRequest, ((posting,), entry_type, key, ref_type, ref_id, metadata, note, None, False))
        return self.store.apply(request, self.clock())

    def mint(self, to_account: str, amount: int, asset: str = "COIN",
             entry_type: str = EntryType.ADMIN_GRANT, **kw: Any) -> Transaction:
        """Issue new units: MINT -> account."""
        return self.transfer(MINT, to_account, amount, asset, entry_type, **kw)

    def burn(self, from_account: str, amount: int, asset: str = "COIN",
             entry_type: str = EntryType.REDEEM_BURN, **kw: Any) -> Transaction:
        """Destroy units: account -> BURN."""
        return self.transfer(from_account, BURN, amount, asset, entry_type, **kw)

    def post(self, request: TransferRequest) -> Transaction:
        """Apply a multi-posting request atomically."""
        return self.store.apply(request, self.clock())

    def post_many(self, requests: Sequence[TransferRequest]) -> list[Transaction | LedgerError]:
        """Apply many requests in one commit (the throughput path on PostgreSQL)."""
        return self.store.apply_many(requests, self.clock())

    # -- holds ---------------------------------------------------------------
    def lock(
        self,
        account: str,
        amount: int,
        asset: str = "COIN",
        *,
        expires_at: datetime | None = None,
        key: str | None = None,
        ref_type: str | None = None,
        ref_id: str | None = None,
        entry_type: str = EntryType.HOLD_LOCK,
        metadata: dict[str, Any] | None = None,
    ) -> Hold:
        """Move ``amount`` from ``account`` into escrow under a new LOCKED hold."""
        hold_id = self.store.new_id("h")
        tx = self.store.apply(
            TransferRequest(
                (Posting(account, ESCROW, asset, amount),), entry_type, key, ref_type, ref_id,
                metadata, None, HoldAction("lock", hold_id, account, asset, amount, expires_at),
            ),
            self.clock(),
        )
        return self._hold(tx.hold_id or hold_id)

    def release(
        self,
        hold_id: str,
        to_account: str,
        amount: int | None = None,
        *,
        key: str | None = None,
        entry_type: str = EntryType.HOLD_RELEASE,
        metadata: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> Hold:
        """Pay ``amount`` (default: all) of a hold to ``to_account``; the rest goes back
        to the holder."""
        hold = self._hold(hold_id)
        paid = hold.amount if amount is None else amount
        if type(paid) is not int or not 0 <= paid <= hold.amount:
            raise InvalidRequest(f"release amount must be 0..{hold.amount}, got {amount!r}")
        legs = []
        if paid:
            legs.append(Posting(ESCROW, to_account, hold.asset, paid))
        if hold.amount - paid:
            legs.append(Posting(ESCROW, hold.account, hold.asset, hold.amount - paid, EntryType.HOLD_RETURN))
        return self._settle(hold, "release", legs, entry_type, key, metadata, note)

    def capture(
        self,
        hold_id: str,
        legs: Sequence[Posting],
        *,
        entry_type: str = EntryType.HOLD_RELEASE,
        key: str | None = None,
        metadata: dict[str, Any] | None = None,
        note: str | None = None,
        settle: bool = False,
    ) -> Transaction:
        """One atomic transaction whose legs out of ESCROW draw on the hold; other legs
        (the counterparty's side of a trade) may ride along. ``settle=True`` ends the
        hold (legs out of escrow must then take all of it); otherwise part stays locked."""
        hold = self._hold(hold_id)
        kind = "release" if settle else "capture"
        return self.store.apply(
            TransferRequest(tuple(legs), entry_type, key, hold.ref_type, hold.ref_id, metadata, note,
                            HoldAction(kind, hold.id)),
            self.clock(),
        )

    def void(self, hold_id: str, *, key: str | None = None, note: str | None = None) -> Hold:
        """Return all of a hold to its holder."""
        hold = self._hold(hold_id)
        legs = [Posting(ESCROW, hold.account, hold.asset, hold.amount)]
        return self._settle(hold, "void", legs, EntryType.HOLD_RETURN, key, None, note)

    def forfeit(self, hold_id: str, to_account: str = BURN, *, key: str | None = None,
                entry_type: str = EntryType.HOLD_FORFEIT, note: str | None = None) -> Hold:
        """The holder loses the hold: it goes to ``to_account`` (burned by default)."""
        hold = self._hold(hold_id)
        legs = [Posting(ESCROW, to_account, hold.asset, hold.amount)]
        return self._settle(hold, "forfeit", legs, entry_type, key, None, note)

    def expire_holds(self, now: datetime | None = None) -> list[Hold]:
        """Void every LOCKED hold whose expiry has passed; returns the holds voided."""
        now = now or self.clock()
        voided = []
        for hold in self.store.holds(status=HoldStatus.LOCKED):
            if hold.expires_at is not None and hold.expires_at <= now:
                try:
                    voided.append(self.void(hold.id, note="expired"))
                except LedgerError:
                    continue  # settled concurrently: nothing to do
        return voided

    def _settle(self, hold: Hold, kind: str, legs: list[Posting], entry_type: str,
                key: str | None, metadata: dict[str, Any] | None, note: str | None) -> Hold:
        if not legs:
            raise InvalidRequest("nothing to settle")
        self.store.apply(
            TransferRequest(tuple(legs), entry_type, key, hold.ref_type, hold.ref_id, metadata, note,
                            HoldAction(kind, hold.id)),
            self.clock(),
        )
        return self._hold(hold.id)

    def _hold(self, hold_id: str) -> Hold:
        hold = self.store.get_hold(hold_id)
        if hold is None:
            raise HoldNotFound(hold_id)
        return hold

    # -- reading -------------------------------------------------------------
    def balance(self, account: str, asset: str = "COIN") -> int:
        """What ``account`` can spend now (held funds are in escrow, not here)."""
        return self.store.balance(account, asset)

    def balances(self, account: str) -> dict[str, int]:
        return self.store.balances(account)

    def held(self, account: str, asset: str = "COIN") -> int:
        return sum(h.amount for h in self.store.holds(account=account, status=HoldStatus.LOCKED)
                   if h.asset == asset)

    def get_hold(self, hold_id: str) -> Hold:
        return self._hold(hold_id)

    def supply(self, asset: str = "COIN") -> Supply:
        return Supply(asset, -self.store.balance(MINT, asset), self.store.balance(BURN, asset))

    def history(self, account: str, *, entry_type: str | None = None, asset: str | None = None,
                limit: int = 50, offset: int = 0) -> list[HistoryItem]:
        """Newest first, as the account saw each movement."""
        if limit < 0 or offset < 0:
            raise InvalidRequest("limit and offset must be >= 0")
        items = []
        for e in self.store.entries(account=account, entry_type=entry_type, asset=asset,
                                    limit=limit, offset=offset, newest_first=True):
            received = e.to_account == account
            items.append(HistoryItem(
                e.id, e.tx_id, e.time, e.entry_type, e.asset,
                e.amount if received else -e.amount,
                e.to_before if received else e.from_before,
                e.to_after if received else e.from_after,
                e.from_account if received else e.to_account,
                e.ref_type, e.ref_id, e.metadata, e.note,
            ))
        return items

    def check(self, *, expect_anchor: str | None = None) -> CheckReport:
        """Prove the store from its journal and the journal from its hash chain; with
        ``expect_anchor`` (an earlier report's ``anchor``), that the history up to it is
        unchanged."""
        return check_store(self.store, expect_anchor=expect_anchor)
