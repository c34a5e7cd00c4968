"""The journal's hash chain and the append-only transactions and keys.

Adds ``entries.hash`` (each entry's hash commits to the one before it, see
ledger.engine.entry_hash) and backfills it over the existing journal in id order;
adds ``journal_head`` (the last id and its hash, the row a batch locks to chain after
it); refuses TRUNCATE of the journal, the transactions and the idempotency keys, and
UPDATE and DELETE of the transactions and the keys, as the journal's were already.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC

import sqlalchemy as sa
from alembic import op

from ledger.engine import GENESIS, seal
from ledger.model import Entry

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("entries", "transactions", "idempotency_keys")
_BACKFILL_BATCH = 5000


def _entries_table() -> sa.TableClause:
    """The journal's columns as revision 0003 left them, typed, plus the new hash."""
    big, text = sa.BigInteger(), sa.String()
    return sa.table(
        "entries",
        sa.column("id", big), sa.column("tx_id", text), sa.column("time", sa.DateTime(timezone=True)),
        sa.column("entry_type", text), sa.column("asset", text), sa.column("amount", big),
        sa.column("from_account", text), sa.column("to_account", text), sa.column("from_before", big),
        sa.column("from_after", big), sa.column("to_before", big), sa.column("to_after", big),
        sa.column("ref_type", text), sa.column("ref_id", text), sa.column("idempotency_key", text),
        sa.column("metadata", sa.JSON()), sa.column("note", text), sa.column("hash", text),
    )


def _backfill(bind: sa.Connection) -> tuple[int, str]:
    """Chain the existing journal in id order; returns the head (last id, its hash)."""
    entries = _entries_table()
    head, last_id, after = GENESIS, 0, 0
    while True:
        rows = bind.execute(sa.select(entries).where(entries.c.id > after).order_by(entries.c.id)
                            .limit(_BACKFILL_BATCH)).all()
        if not rows:
            return last_id, head
        batch = []
        for r in rows:
            t = r.time.replace(tzinfo=UTC) if r.time.tzinfo is None else r.time.astimezone(UTC)
            batch.append(Entry(r.id, r.tx_id, t, r.entry_type, r.asset, r.amount, r.from_account, r.to_account,
                               r.from_before, r.from_after, r.to_before, r.to_after, r.ref_type, r.ref_id,
                               r.idempotency_key, r.metadata, r.note))
        hashes = seal(head, batch)
        bind.execute(sa.update(entries).where(entries.c.id == sa.bindparam("eid")).values(hash=sa.bindparam("h")),
                     [{"eid": e.id, "h": h} for e, h in zip(batch, hashes, strict=True)])
        head, last_id, after = hashes[-1], batch[-1].id, batch[-1].id


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.add_column("entries", sa.Column("hash", sa.String(64)))
    op.create_table(
        "journal_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # The backfill is the one UPDATE the journal ever takes, by the tables' owner.
    if pg:
        op.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
    else:
        op.execute("DROP TRIGGER entries_no_update")
    last_id, head = _backfill(bind)
    if pg:
        op.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
        # Ids now come from journal_head, one after the other; the sequence stays behind.
    else:
        op.execute("CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries "
                   "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END")
    op.execute(sa.text("INSERT INTO journal_head (id, last_id, hash) VALUES (1, :last_id, :hash)")
               .bindparams(last_id=last_id, hash=head))

    if pg:
        for table in APPEND_ONLY:
            if table != "entries":
                op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION journal_is_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only()")
        # The head moves forward only: never deleted (a missing head would restart the chain).
        op.execute("CREATE TRIGGER journal_head_kept BEFORE DELETE ON journal_head "
                   "FOR EACH ROW EXECUTE FUNCTION journal_is_append_only()")
        op.execute("CREATE TRIGGER journal_head_no_truncate BEFORE TRUNCATE ON journal_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only()")
    else:  # SQLite has no TRUNCATE: a DELETE without WHERE fires the DELETE trigger
        for table in APPEND_ONLY[1:]:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END")
        op.execute("CREATE TRIGGER journal_head_kept BEFORE DELETE ON journal_head "
                   "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in APPEND_ONLY:
            if table != "entries":
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS journal_head_kept ON journal_head")
        op.execute("DROP TRIGGER IF EXISTS journal_head_no_truncate ON journal_head")
        # Ids come from the sequence again: move it past the chain's ids.
        op.execute("SELECT setval(pg_get_serial_sequence('entries', 'id'), "
                   "GREATEST((SELECT max(id) FROM entries), 1))")
    else:
        for table in APPEND_ONLY[1:]:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    op.drop_table("journal_head")
    op.drop_column("entries", "hash")
