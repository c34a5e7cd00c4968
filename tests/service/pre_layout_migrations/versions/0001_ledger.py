"""The ledger: assets, accounts, balances, transactions, the append-only journal,
idempotency keys and holds.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("scale", sa.SmallInteger, nullable=False),
        sa.Column("name", sa.String(100), nullable=False, server_default=""),
    )
    op.create_table(
        "accounts",
        sa.Column("address", sa.String(160), primary_key=True),
        sa.Column("allow_negative", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("frozen", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account", sa.String(160), primary_key=True),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("time", TZ, nullable=False),
        sa.Column("entry_type", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("hold_id", sa.String(40)),
    )
    op.create_table(
        "entries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("tx_id", sa.String(40), nullable=False),
        sa.Column("time", TZ, nullable=False),
        sa.Column("entry_type", sa.String(40), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("from_account", sa.String(160), nullable=False),
        sa.Column("to_account", sa.String(160), nullable=False),
        sa.Column("from_before", sa.BigInteger, nullable=False),
        sa.Column("from_after", sa.BigInteger, nullable=False),
        sa.Column("to_before", sa.BigInteger, nullable=False),
        sa.Column("to_after", sa.BigInteger, nullable=False),
        sa.Column("ref_type", sa.String(60)),
        sa.Column("ref_id", sa.String(200)),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("metadata", sa.JSON),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_entries_tx_id", "entries", ["tx_id"])
    op.create_index("ix_entries_from_account", "entries", ["from_account", "id"])
    op.create_index("ix_entries_to_account", "entries", ["to_account", "id"])
    op.create_index("ix_entries_time", "entries", ["time"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("tx_id", sa.String(40), nullable=False),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account", sa.String(160), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ),
        sa.Column("settled_at", TZ),
        sa.Column("ref_type", sa.String(60)),
        sa.Column("ref_id", sa.String(200)),
    )
    op.create_index("ix_holds_account_status", "holds", ["account", "status"])
    op.create_index("ix_holds_status", "holds", ["status"])

    # The journal is append-only: refuse UPDATE and DELETE at the database itself.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the journal is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries "
            "FOR EACH ROW EXECUTE FUNCTION journal_is_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER entries_no_{event.lower()} BEFORE {event} ON entries "
                "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
            )


def downgrade() -> None:
    for table in ("holds", "idempotency_keys", "entries", "transactions", "balances", "accounts", "assets"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS journal_is_append_only()")
