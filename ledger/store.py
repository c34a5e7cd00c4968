"""The one interface both stores implement (in-memory for the simulator, SQL for production)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from .errors import LedgerError
from .model import Asset, Entry, Hold, Transaction, TransferRequest

__all__ = ["Store", "TxRow"]


class TxRow(NamedTuple):
    """A stored transaction, as `check` cross-checks it against the journal and the keys."""

    id: str
    idempotency_key: str | None


class Store(Protocol):
    def create_asset(self, asset: Asset) -> None:
        """Register an asset; registering the same asset again is a no-op."""

    def assets(self) -> dict[str, Asset]: ...

    def open_account(self, address: str, *, allow_negative: bool = False) -> None:
        """Create an account up front (accounts are otherwise created on first credit).
        Only accounts opened with ``allow_negative`` may go below zero."""

    def set_frozen(self, address: str, frozen: bool) -> None:
        """A frozen account can receive but not pay."""

    def is_frozen(self, address: str) -> bool: ...

    def new_id(self, prefix: str) -> str:
        """A fresh id for a hold (deterministic in memory, random in SQL)."""

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        """Apply one request atomically and durably, or raise a LedgerError."""

    def apply_many(
        self, requests: Sequence[TransferRequest], now: datetime
    ) -> list[Transaction | LedgerError]:
        """Apply many requests in one commit. Each succeeds or fails on its own; the
        result list says which. Nothing is acknowledged before the commit."""

    def balance(self, account: str, asset: str) -> int: ...

    def balances(self, account: str) -> dict[str, int]: ...

    def get_hold(self, hold_id: str) -> Hold | None: ...

    def holds(self, *, account: str | None = None, status: str | None = None) -> list[Hold]: ...

    def entries(
        self,
        *,
        account: str | None = None,
        entry_type: str | None = None,
        asset: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Entry]: ...

    # -- what `check` reads --------------------------------------------------
    def iter_journal(self) -> Iterator[Entry]:
        """Every journal entry in id order."""

    def stored_balances(self) -> Iterable[tuple[str, str, int]]: ...

    def negative_allowed(self) -> set[str]: ...

    def all_holds(self) -> Iterable[Hold]: ...

    def iter_chain(self) -> Iterator[tuple[Entry, int, str | None]]:
        """Every journal entry in id order, with its chain and the hash stored with it
        (each entry's hash chains to the entry before it in the same chain)."""

    def chain_heads(self) -> dict[int, tuple[int, str]] | None:
        """The stored head of each chain (its last entry id, that entry's hash; (0,
        GENESIS) for an empty chain), where a store keeps them."""

    def iter_transactions(self) -> Iterable[TxRow]: ...

    def iter_keys(self) -> Iterable[tuple[str, str]]:
        """Every idempotency key with the id of the transaction it produced."""
