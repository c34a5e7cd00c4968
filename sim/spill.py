"""Keeping a long simulation inside a fixed amount of memory.

The in-memory ledger keeps every journal entry and every idempotency key for its whole
life: right for a test or a short run, impossible for a million users over a year
(~80M entries). The simulator's store (`SpillingStore`) bounds both:

- the journal is spilled to Parquet files in a scratch directory once it holds
  ``spill_rows`` entries (at the end of a day, so a transaction is never split). The
  export then writes the run's ``entries`` and ``transactions`` from the spilled parts
  and the tail still in memory (`entry_table` and `transactions_of` build them from any run of whole transactions);
  the store's readers (`iter_journal`, `iter_chain`, `entries`, so `ledger.check`) read
  the parts back, so every invariant is still checked over the whole history.
- idempotency keys are forgotten after a retention window (`KEY_WINDOW_DAYS` simulated
  days), as Stripe forgets its own (after 24 hours). Two generations: keys go into the
  current one; every ``window`` days it becomes the previous one and the one before is
  dropped, so a key is remembered at least ``window`` days and at most twice that. A replay of a
  key found in the previous generation is brought back and answered as before.

The window is longer than any replay the simulator makes: the rules' keys are replayed
within their UTC day (logins, votes and unlocks per day's claims); one-time rewards are
asked for once, when an account opens; a stake key carries its second; and the
simulated Stripe redelivers an event at most a few hours after the first delivery
(an exponential extra delay of mean 10 minutes). ``tests/sim/test_spill.py`` measures
the longest replay gap over every scenario against the window.

The production stores keep every key and every entry; nothing here is used by them.
"""

from __future__ import annotations

import gc
import json
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ledger.engine import GENESIS, entry_hash, post
from ledger.model import Entry, Transaction, TransferRequest
from ledger.store import TxRow

from .adapters import _SPENDS, _WATCHED, IndexedMemoryStore
from .warehouse import SCHEMAS, to_json

__all__ = ["KEY_WINDOW_DAYS", "SPILL_ROWS", "JournalSpill", "SpillingStore", "entry_table", "transactions_of"]

SPILL_ROWS = 1_000_000
"""Entries kept in memory before a spill: ~0.6 GB of entries and their keys, and a
Parquet part of ~30 MB; larger parts gain little (one write per ~40k user-days)."""
KEY_WINDOW_DAYS = 3
"""How long an idempotency key is remembered at least (see the module text)."""

_ENTRY_FIELDS = list(Entry._fields)


_ENTRY_ROW = pa.struct(list(SCHEMAS["entries"])[2:])  # Entry's fields, in its order
_METADATA = Entry._fields.index("metadata")
_ENTRY_SCHEMA = pa.schema(list(_ENTRY_ROW))


def entry_table(entries: Sequence[Entry]) -> pa.Table:
    """The warehouse's ``entries`` columns (after ``source``/``run_id``) of journal entries."""
    enabled = gc.isenabled()
    gc.disable()  # a million short-lived values: a collection pass would only rescan them
    try:
        # Transposed in C (zip) and read column by column: 2.4x faster than Arrow reading
        # the tuples as structs (1.4 s against 3.4 s per million entries), and a spill
        # converts every entry the simulator writes.
        columns: list[Sequence[Any]] = list(zip(*entries, strict=True)) or [() for _ in _ENTRY_FIELDS]
        metadata = columns[_METADATA]
        if any(m is not None for m in metadata):  # rare: encode it as JSON text
            columns[_METADATA] = [None if m is None else to_json(m) for m in metadata]
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, _ENTRY_ROW, strict=True)],
                                    schema=_ENTRY_SCHEMA)
    finally:
        if enabled:
            gc.enable()


_TX_SCHEMA = pa.schema(list(SCHEMAS["transactions"])[2:])


def transactions_of(entries: pa.Table) -> pa.Table:
    """The ``transactions`` rows of an `entry_table` of whole transactions: one per
    ``tx_id`` in journal order, with its first entry's time, type and refs, its number of
    entries and its assets (sorted, comma-joined)."""
    first = [pl.col(c).first() for c in ("time", "entry_type")]
    refs = [pl.col(c).first() for c in ("ref_type", "ref_id", "idempotency_key")]
    frame = pl.from_arrow(entries)
    assert isinstance(frame, pl.DataFrame)  # a Table (not an Array) gives a DataFrame
    tx = frame.group_by("tx_id", maintain_order=True).agg(
        *first, pl.len().cast(pl.Int64).alias("entries"),
        pl.col("asset").unique().sort().str.join(",").alias("assets"), *refs)
    return tx.to_arrow().select(_TX_SCHEMA.names).cast(_TX_SCHEMA)


class JournalSpill:
    """Parquet parts of a journal, in order, in ``directory`` (a scratch directory of
    its own, removed with this object, when none is given)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        if directory is None:
            directory = tempfile.mkdtemp(prefix="coinlab-spill-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, directory, True)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.parts = 0
        self.rows = 0
        self.cpu_seconds = 0.0  # spent writing parts

    def _path(self, i: int) -> Path:
        return self.directory / f"entries-{i:05d}.parquet"

    def write(self, entries: Sequence[Entry]) -> None:
        """Append ``entries`` (whole transactions) as the next part."""
        t0 = time.process_time()
        self.parts += 1
        # No dictionary pages: the columns are mostly distinct strings (keys, tx ids), so
        # dictionaries cost a third of the write and make the part larger (a 384k-entry
        # part: 0.15 s and 7.0 MB without, 0.22 s and 8.2 MB with).
        pq.write_table(entry_table(entries), self._path(self.parts), compression="zstd", use_dictionary=False)
        self.rows += len(entries)
        self.cpu_seconds += time.process_time() - t0

    def tables(self, table: str = "entries") -> Iterator[pa.Table]:
        """The spilled parts of ``table`` ("entries", or "transactions" derived from
        them), oldest first."""
        for i in range(1, self.parts + 1):
            part = pq.read_table(self._path(i))
            yield part if table == "entries" else transactions_of(part)

    def iter_entries(self) -> Iterator[Entry]:
        """The spilled entries as the journal held them."""
        new = tuple.__new__
        for t in self.tables("entries"):
            cols = [t.column(n).to_pylist() for n in _ENTRY_FIELDS]
            meta = _ENTRY_FIELDS.index("metadata")
            cols[meta] = [None if m is None else json.loads(m) for m in cols[meta]]
            for row in zip(*cols, strict=True):
                yield new(Entry, row)


class SpillingStore(IndexedMemoryStore):
    """`IndexedMemoryStore` whose journal spills to Parquet past ``spill_rows`` entries
    and whose idempotency keys are kept for ``key_window_days`` simulated days at least
    (see the module text). `end_of_day` does both; the model calls it after each day."""

    def __init__(self, *, spill_rows: int = SPILL_ROWS, key_window_days: int = KEY_WINDOW_DAYS,
                 spill_dir: str | Path | None = None) -> None:
        super().__init__()
        if spill_rows < 1:
            raise ValueError(f"spill_rows must be >= 1, got {spill_rows}")
        if key_window_days < 1:
            raise ValueError(f"key_window_days must be >= 1, got {key_window_days}")
        self.spill_rows = spill_rows
        self.key_window_days = key_window_days
        self._spill_dir = spill_dir
        self.spill: JournalSpill | None = None
        self._old_keys: dict[str, tuple[str | None, Transaction]] = {}
        self._days_in_generation = 0
        self.keys_forgotten = 0

    def apply(self, request: TransferRequest, now: datetime) -> Transaction:
        old = self._old_keys
        if old:
            key = request[2]
            if key is not None and key in old:  # a replay from the previous generation
                self.book.keys[key] = old.pop(key)
        # IndexedMemoryStore.apply inline: the simulator's every posting comes here.
        tx = post(self.book, request, now, str(next(self._tx_ids)))
        t, entries = tx.entry_type, tx.entries
        if t in _SPENDS and len(entries) == 1 and not tx.replayed:  # the commonest: a vote or unlock
            self.activity[entries[0].from_account] += 1
        elif t in _WATCHED and not tx.replayed:
            self._index(tx)
        return tx

    def end_of_day(self) -> bool:
        """The model calls this once a simulated day has ended. Rotates the keys every
        ``key_window_days`` days, and spills the journal if it is full: True if it was
        spilled (it is then empty)."""
        self._days_in_generation += 1
        if self._days_in_generation >= self.key_window_days:
            self.keys_forgotten += len(self._old_keys)
            self._old_keys = self.book.keys
            self.book.keys = {}
            self._days_in_generation = 0
        journal = self.book.journal
        if len(journal) < self.spill_rows:
            return False
        if self.spill is None:
            self.spill = JournalSpill(self._spill_dir)
        self.spill.write(journal)
        journal.clear()
        self._hashes.clear()  # any chain sealed by a read is sealed again over all (`_chain_all`)
        return True

    # -- readers over the whole history -----------------------------------------------------
    @property
    def journal_rows(self) -> int:
        """Entries written so far, spilled or not."""
        return (self.spill.rows if self.spill else 0) + len(self.book.journal)

    def iter_journal(self) -> Iterator[Entry]:
        spilled = self.spill.iter_entries() if self.spill else iter(())
        return chain(spilled, self.book.journal)

    def iter_chain(self) -> Iterator[tuple[Entry, int, str | None]]:
        if self.spill is None:
            return super().iter_chain()
        return self._chain_all()

    def _chain_all(self) -> Iterator[tuple[Entry, int, str | None]]:
        """Seals the whole history as it is read (spilled parts are files, not objects
        anyone can change in place) and records the head it reaches."""
        prev, last = GENESIS, 0
        for e in self.iter_journal():
            prev = entry_hash(prev, e)
            last = e.id
            yield e, 1, prev
        self._head = (last, prev)

    def iter_transactions(self) -> Iterable[TxRow]:
        seen: dict[str, TxRow] = {}
        for e in self.iter_journal():
            if e.tx_id not in seen:
                seen[e.tx_id] = TxRow(e.tx_id, e.idempotency_key)
        return list(seen.values())

    def iter_keys(self) -> Iterable[tuple[str, str]]:
        """The keys remembered, and those forgotten with the journal's word for them:
        a forgotten key was this store's until its window passed (see the module text)."""
        kept = {key: tx.id for key, (_fp, tx) in chain(self._old_keys.items(), self.book.keys.items())}
        forgotten = [(t.idempotency_key, t.id) for t in self.iter_transactions()
                     if t.idempotency_key is not None and t.idempotency_key not in kept]
        return list(kept.items()) + forgotten

    def entries(self, *, account: str | None = None, entry_type: str | None = None, asset: str | None = None,
                limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[Entry]:
        if self.spill is None:
            return super().entries(account=account, entry_type=entry_type, asset=asset, limit=limit,
                                   offset=offset, newest_first=newest_first)
        rows: Iterable[Entry] = self.iter_journal()
        if newest_first:
            rows = reversed(list(rows))
        matching = (e for e in rows
                    if (account is None or account in (e.from_account, e.to_account))
                    and (entry_type is None or e.entry_type == entry_type)
                    and (asset is None or e.asset == asset))
        return list(islice(matching, offset, None if limit is None else offset + limit))
