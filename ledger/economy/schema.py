"""SQL tables of the economy layer (SQLAlchemy Core, on a MetaData of its own):
coin packages, Stripe payments and events, user flags, pools and their stakes.
Migration 0002 (ledger/economy/migrations/) creates them; `LAYER` puts both in the
database's one Alembic history."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.sql.migrate import SchemaLayer

__all__ = [
    "LAYER", "belt_challenges", "coin_packages", "metadata", "payments", "pool_stakes", "pools", "stripe_events",
    "tournament_entries", "tournaments", "user_flags",
]

metadata = MetaData()
LAYER = SchemaLayer(metadata, Path(__file__).resolve().parent / "migrations")

BigId = BigInteger().with_variant(Integer(), "sqlite")
TZ = DateTime(timezone=True)

coin_packages = Table(
    "coin_packages", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("base_coins", BigInteger, nullable=False),
    Column("bonus_coins", BigInteger, nullable=False),
    Column("display_order", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
)

# One row per Checkout Session: what was sold, and what Stripe told us about it since.
payments = Table(
    "payments", metadata,
    Column("session_id", String(200), primary_key=True),
    Column("user_id", String(120), nullable=False),
    Column("package_id", String(40), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("base_coins", BigInteger, nullable=False),
    Column("bonus_coins", BigInteger, nullable=False),
    Column("promo_code", String(40)),
    Column("status", String(20), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("expires_at", TZ),
    Column("paid_at", TZ),
    Column("checkout_url", Text),
    Column("idempotency_key", String(200)),
    Column("payment_intent", String(200)),
    Column("fulfil_tx", String(40)),
    Column("refunded_cents", BigInteger, nullable=False),
    Column("coins_clawed_back", BigInteger, nullable=False),
    Column("shortfall_coins", BigInteger, nullable=False),
    Column("disputed", Boolean, nullable=False),
    Column("failure_reason", String(200)),
    Index("ix_payments_user_created", "user_id", "created_at"),
    Index("ix_payments_payment_intent", "payment_intent"),
    Index("ix_payments_idempotency_key", "idempotency_key", unique=True),
)

# Webhook events seen (dedup by id), and charge events parked until their session is paid.
stripe_events = Table(
    "stripe_events", metadata,
    Column("id", String(200), primary_key=True),
    Column("type", String(80), nullable=False),
    Column("status", String(12), nullable=False),
    Column("payment_intent", String(200)),
    Column("received_at", TZ, nullable=False),
    Column("payload", JSON),
    Index("ix_stripe_events_pi_status", "payment_intent", "status"),
)

user_flags = Table(
    "user_flags", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", String(120), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("ref", String(200)),
    Column("detail", JSON),
    Column("created_at", TZ, nullable=False),
    UniqueConstraint("user_id", "reason", "ref", name="uq_user_flags_user_reason_ref"),
)

pools = Table(
    "pools", metadata,
    Column("id", String(60), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("outcomes", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("house_fee_bps", Integer, nullable=False),
    Column("min_stake", BigInteger, nullable=False),
    Column("max_stake_per_user", BigInteger, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("settled_at", TZ),
    Column("winning_outcome", String(60)),
)

pool_stakes = Table(
    "pool_stakes", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("pool_id", String(60), nullable=False),
    Column("user_id", String(120), nullable=False),
    Column("outcome", String(60), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("hold_id", String(40)),
    Column("key", String(200)),
    Index("ix_pool_stakes_pool_user", "pool_id", "user_id"),
    UniqueConstraint("pool_id", "key", name="uq_pool_stakes_pool_key"),
)

# Belt challenges (ledger.economy.contests): the challenger's entry fee is a hold until
# the result splits it (``status`` open, settled or cancelled).
belt_challenges = Table(
    "belt_challenges", metadata,
    Column("id", String(60), primary_key=True),
    Column("challenger", String(120), nullable=False),
    Column("belt_value", BigInteger, nullable=False),
    Column("entry_fee", BigInteger, nullable=False),
    Column("hold_id", String(40), nullable=False),
    Column("status", String(12), nullable=False),
    Column("winner", String(120)),
    Column("loser", String(120)),
    Column("tx_id", String(40)),
    Column("created_at", TZ, nullable=False),
    Column("settled_at", TZ),
)

# Tournaments: ``prize_bps`` is each place's share of the entry fees (a JSON list);
# ``placements`` the users paid, in order (``status`` open, paid or cancelled).
tournaments = Table(
    "tournaments", metadata,
    Column("id", String(60), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("creator", String(120), nullable=False),
    Column("entry_fee", BigInteger, nullable=False),
    Column("prize_bps", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("placements", JSON),
    Column("created_at", TZ, nullable=False),
    Column("settled_at", TZ),
)

tournament_entries = Table(
    "tournament_entries", metadata,
    Column("tournament_id", String(60), primary_key=True),
    Column("user_id", String(120), primary_key=True),
    Column("hold_id", String(40)),
    Column("created_at", TZ, nullable=False),
)
