"""SQL tables of the ledger core (SQLAlchemy Core). Migration 0001 creates them; this
module is what the store queries and what the migration test compares against. The
layers built on the core keep their tables on MetaData of their own
(ledger.economy.schema, service.tables)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "APPEND_ONLY", "CHAINS", "accounts", "assets", "balances", "entries", "holds", "idempotency_keys", "journal_head", "metadata",
    "transactions",
]

metadata = MetaData()

# Tables rows are only ever added to: triggers refuse UPDATE, DELETE and TRUNCATE, and
# the service's role may only read and insert them (service.database.grant_app_role).
APPEND_ONLY = ("entries", "transactions", "idempotency_keys")

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Address = String(160)
Code = String(16)
Id = String(40)
Hash = String(64)  # SHA-256, hex

assets = Table(
    "assets", metadata,
    Column("code", Code, primary_key=True),
    Column("scale", SmallInteger, nullable=False),
    Column("name", String(100), nullable=False, server_default=""),
)

accounts = Table(
    "accounts", metadata,
    Column("address", Address, primary_key=True),
    Column("allow_negative", Boolean, nullable=False, server_default="0"),
    Column("frozen", Boolean, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The current balance of each (account, asset); rows are locked to serialize writers.
balances = Table(
    "balances", metadata,
    Column("account", Address, primary_key=True),
    Column("asset", Code, primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

transactions = Table(
    "transactions", metadata,
    Column("id", Id, primary_key=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("entry_type", String(40), nullable=False),
    Column("idempotency_key", String(200)),
    Column("hold_id", Id),
)

# The journal: append-only (triggers in the migrations refuse UPDATE, DELETE and
# TRUNCATE). ``hash`` chains each entry to the one before it in its ``chain``
# (ledger.engine.entry_hash); see journal_head.
entries = Table(
    "entries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tx_id", Id, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("entry_type", String(40), nullable=False),
    Column("asset", Code, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("from_account", Address, nullable=False),
    Column("to_account", Address, nullable=False),
    Column("from_before", BigInteger, nullable=False),
    Column("from_after", BigInteger, nullable=False),
    Column("to_before", BigInteger, nullable=False),
    Column("to_after", BigInteger, nullable=False),
    Column("ref_type", String(60)),
    Column("ref_id", String(200)),
    Column("idempotency_key", String(200)),
    Column("metadata", JSON),
    Column("note", Text),
    Column("hash", Hash),
    Column("chain", SmallInteger, nullable=False, server_default="1"),
    Index("ix_entries_tx_id", "tx_id"),
    Index("ix_entries_from_account", "from_account", "id"),
    Index("ix_entries_to_account", "to_account", "id"),
    Index("ix_entries_time", "time"),
)

# The journal is CHAINS hash chains, each with its head here: row ``id`` is chain
# ``id``'s last entry id and hash. A batch locks one head, a free one on PostgreSQL
# (SKIP LOCKED), and chains its entries after it. With a single chain every commit
# waited for the one before it to be durable (its fsync) before it could read the hash
# to chain after, so concurrent writers could not share a disk flush; with one chain
# per concurrent writer they do. Journal ids come from one sequence, taken once the
# batch holds its balance rows and its head, so they rise in commit order per account
# and per chain (what `check` replays by); they may skip (a batch rolled back).
# SQLite has one writer at a time: it uses chain 1 only, numbered from its head.
CHAINS = 16
journal_head = Table(
    "journal_head", metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("hash", Hash, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("tx_id", Id, nullable=False),
)

holds = Table(
    "holds", metadata,
    Column("id", Id, primary_key=True),
    Column("account", Address, nullable=False),
    Column("asset", Code, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("settled_at", DateTime(timezone=True)),
    Column("ref_type", String(60)),
    Column("ref_id", String(200)),
    Index("ix_holds_account_status", "account", "status"),
    Index("ix_holds_status", "status"),
)
