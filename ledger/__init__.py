"""The production ledger core: assets, accounts, atomic multi-posting transactions, holds,
idempotency and the journal, over an in-memory or a SQL store. The economy layer built
on it is the subpackage ledger.economy; the core imports nothing from it."""

from .check import CheckReport, check_store
from .errors import (
    AccountFrozen,
    HoldExpired,
    HoldNotFound,
    HoldNotLocked,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    LedgerError,
    UnknownAsset,
)
from .ledger import Ledger, utcnow
from .memory import MemoryStore
from .model import (
    BURN,
    ESCROW,
    MINT,
    Asset,
    Entry,
    EntryType,
    HistoryItem,
    Hold,
    HoldAction,
    HoldStatus,
    Posting,
    Supply,
    Transaction,
    TransferRequest,
    user_account,
)

__all__ = [
    "BURN", "ESCROW", "MINT", "AccountFrozen", "Asset", "CheckReport", "Entry", "EntryType",
    "HistoryItem", "Hold", "HoldAction", "HoldExpired", "HoldNotFound", "HoldNotLocked",
    "HoldStatus", "IdempotencyConflict", "InsufficientFunds", "InvalidRequest", "Ledger",
    "LedgerError", "MemoryStore", "Posting", "Supply", "Transaction", "TransferRequest",
    "UnknownAsset", "check_store", "user_account", "utcnow",
]
