"""The in-memory store: the simulator pushes millions of transfers through it, so it is
the engine's Book used directly, with no copying. Ids are counters, so a seeded
simulation is deterministic."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import count, islice

from .engine import GENESIS, Book, check_address, check_asset, post, seal
from .errors import LedgerError
from .model import Asset, Entry, Hold, Transaction, TransferRequest
from .store import TxRow

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self) -> None:
        self.book = Book(derived_fingerprints=True)  # its keys live only here
        self._hashes: list[str] = []  # the journal's chain, sealed up to here (see iter_chain)
        self._head = (0, GENESIS)
        self._assets: dict[str, Asset] = {}
        self._tx_ids = count(1)
        self._ids = count(1)

    def create_asset(self, asset: Asset) -> None:
        check_asset(asset)
        self._assets.setdefault(asset.code, asset)
        self.book.assets.add(asset.code)

    def assets(self) -> dict[str, Asset]:
        return dict(self._assets)

    def open_account(self, address: str, *, allow_negative: bool = False) -> None:
        check_address(address)
        if allow_negative:
            self.book.negative_ok.add(address)

    def set_frozen(self, address: str, frozen: bool) -> None:
        check_address(address)
        (self.book.frozen.add if frozen else self.book.frozen.discard)(address)

    def is_frozen(self, address: str) -> bool:
        return address in self.book.frozen

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        return post(self.book, request, now, str(next(self._tx_ids)))

    def apply_many(
        self, requests: Sequence[TransferRequest], now: datetime
    ) -> list[Transaction | LedgerError]:
        results: list[Transaction | LedgerError] = []
        for req in requests:
            try:
                results.append(self.apply(req, now))
            except LedgerError as err:
                results.append(err)
        return results

    def balance(self, account: str, asset: str) -> int:
        return self.book.balances.get((account, asset), 0)

    def balances(self, account: str) -> dict[str, int]:
        return {asset: bal for (acct, asset), bal in self.book.balances.items() if acct == account}

    def get_hold(self, hold_id: str) -> Hold | None:
        return self.book.holds.get(hold_id)

    def holds(self, *, account: str | None = None, status: str | None = None) -> list[Hold]:
        return [
            h
            for h in self.book.holds.values()
            if (account is None or h.account == account) and (status is None or h.status == status)
        ]

    def entries(
        self,
        *,
        account: str | None = None,
        entry_type: str | None = None,
        asset: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Entry]:
        journal = self.book.journal
        rows: Iterable[Entry] = reversed(journal) if newest_first else journal
        matching = (
            e
            for e in rows
            if (account is None or account in (e.from_account, e.to_account))
            and (entry_type is None or e.entry_type == entry_type)
            and (asset is None or e.asset == asset)
        )
        stop = None if limit is None else offset + limit
        return list(islice(matching, offset, stop))

    def iter_journal(self) -> Iterator[Entry]:
        return iter(self.book.journal)

    def iter_chain(self) -> Iterator[tuple[Entry, int, str | None]]:
        """The journal, all of it in chain 1 (one writer), sealed first up to the newest
        entry (the engine's `seal`, as the SQL store runs it on write): entries sealed by
        an earlier read are checked against the hashes they had then."""
        hashes, journal = self._hashes, self.book.journal
        if len(journal) > len(hashes):
            hashes.extend(seal(hashes[-1] if hashes else GENESIS, journal[len(hashes):]))
            self._head = (journal[-1].id, hashes[-1])
        # shorter than the hashes if entries were removed
        return ((e, 1, h) for e, h in zip(journal, hashes, strict=False))

    def chain_heads(self) -> dict[int, tuple[int, str]] | None:
        return {1: self._head}

    def iter_transactions(self) -> Iterable[TxRow]:
        """The transactions, as the journal has them (memory keeps no table of its own)."""
        seen: dict[str, TxRow] = {}
        for e in self.book.journal:
            if e.tx_id not in seen:
                seen[e.tx_id] = TxRow(e.tx_id, e.idempotency_key)
        return list(seen.values())

    def iter_keys(self) -> Iterable[tuple[str, str]]:
        return [(key, tx.id) for key, (_fp, tx) in self.book.keys.items()]

    def stored_balances(self) -> Iterable[tuple[str, str, int]]:
        return [(acct, asset, bal) for (acct, asset), bal in self.book.balances.items()]

    def negative_allowed(self) -> set[str]:
        return set(self.book.negative_ok)

    def all_holds(self) -> Iterable[Hold]:
        return list(self.book.holds.values())
