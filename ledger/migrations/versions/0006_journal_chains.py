"""Several journal chains, so concurrent writers can share a disk flush.

Adds ``entries.chain`` (every existing entry is in chain 1) and the heads of chains
2..CHAINS, empty. On PostgreSQL journal ids come from the id sequence again (taken
while the batch holds its balance rows and its chain's head): it is moved past the
ids the single chain gave. See ledger.sql.schema.journal_head for why.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from ledger.engine import GENESIS

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHAINS = 16  # ledger.sql.schema.CHAINS when this revision was written


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("entries", sa.Column("chain", sa.SmallInteger, nullable=False, server_default="1"))
    heads = sa.table("journal_head", sa.column("id", sa.SmallInteger), sa.column("last_id", sa.BigInteger),
                     sa.column("hash", sa.String))
    op.bulk_insert(heads, [{"id": c, "last_id": 0, "hash": GENESIS} for c in range(2, CHAINS + 1)])
    if bind.dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('entries', 'id'), "
                   "COALESCE((SELECT max(id) FROM entries), 0) + 1, false)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM entries WHERE chain <> 1")).scalar():
        raise RuntimeError("the journal has entries in chains other than 1: a single chain cannot hold them "
                           "without rewriting their hashes, so this downgrade is refused")
    pg = bind.dialect.name == "postgresql"
    # The heads are never deleted (trigger journal_head_kept), except here, by the owner.
    if pg:
        op.execute("ALTER TABLE journal_head DISABLE TRIGGER journal_head_kept")
    else:
        op.execute("DROP TRIGGER journal_head_kept")
    op.execute("DELETE FROM journal_head WHERE id <> 1")
    if pg:
        op.execute("ALTER TABLE journal_head ENABLE TRIGGER journal_head_kept")
    else:
        op.execute("CREATE TRIGGER journal_head_kept BEFORE DELETE ON journal_head "
                   "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END")
    op.drop_column("entries", "chain")
