"""The economy layer: coin packages, Stripe payments and events, user flags, pools
and pool stakes (tables defined in ledger/economy/schema.py).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "coin_packages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("base_coins", sa.BigInteger, nullable=False),
        sa.Column("bonus_coins", sa.BigInteger, nullable=False),
        sa.Column("display_order", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("session_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(120), nullable=False),
        sa.Column("package_id", sa.String(40), nullable=False),
        sa.Column("price_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("base_coins", sa.BigInteger, nullable=False),
        sa.Column("bonus_coins", sa.BigInteger, nullable=False),
        sa.Column("promo_code", sa.String(40)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("paid_at", TZ),
        sa.Column("checkout_url", sa.Text),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("payment_intent", sa.String(200)),
        sa.Column("fulfil_tx", sa.String(40)),
        sa.Column("refunded_cents", sa.BigInteger, nullable=False),
        sa.Column("coins_clawed_back", sa.BigInteger, nullable=False),
        sa.Column("shortfall_coins", sa.BigInteger, nullable=False),
        sa.Column("disputed", sa.Boolean, nullable=False),
        sa.Column("failure_reason", sa.String(200)),
    )
    op.create_index("ix_payments_user_created", "payments", ["user_id", "created_at"])
    op.create_index("ix_payments_payment_intent", "payments", ["payment_intent"])
    op.create_index("ix_payments_idempotency_key", "payments", ["idempotency_key"], unique=True)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("payment_intent", sa.String(200)),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("payload", sa.JSON),
    )
    op.create_index("ix_stripe_events_pi_status", "stripe_events", ["payment_intent", "status"])
    op.create_table(
        "user_flags",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(120), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("ref", sa.String(200)),
        sa.Column("detail", sa.JSON),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("user_id", "reason", "ref", name="uq_user_flags_user_reason_ref"),
    )
    op.create_table(
        "pools",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("outcomes", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("house_fee_bps", sa.Integer, nullable=False),
        sa.Column("min_stake", sa.BigInteger, nullable=False),
        sa.Column("max_stake_per_user", sa.BigInteger, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("settled_at", TZ),
        sa.Column("winning_outcome", sa.String(60)),
    )
    op.create_table(
        "pool_stakes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pool_id", sa.String(60), nullable=False),
        sa.Column("user_id", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(60), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("hold_id", sa.String(40)),
        sa.Column("key", sa.String(200)),
        sa.UniqueConstraint("pool_id", "key", name="uq_pool_stakes_pool_key"),
    )
    op.create_index("ix_pool_stakes_pool_user", "pool_stakes", ["pool_id", "user_id"])


def downgrade() -> None:
    for table in ("pool_stakes", "pools", "user_flags", "stripe_events", "payments", "coin_packages"):
        op.drop_table(table)
