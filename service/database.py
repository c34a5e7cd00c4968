"""The whole database: the ledger core's tables, the economy layer's and the service's
own, built and upgraded by one Alembic history (0001 ledger, 0002 economy, 0003 service).
Everything that opens the production database (`coinlab serve`, `coinlab db upgrade`,
the tests' databases) migrates it here."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import text

from ledger.economy.schema import LAYER as ECONOMY
from ledger.sql import LEDGER, alembic_config, make_engine
from ledger.sql import upgrade as _upgrade
from ledger.sql.schema import APPEND_ONLY

from .tables import LAYER as SERVICE

__all__ = ["LAYERS", "config", "grant_app_role", "metadata", "upgrade"]

LAYERS = (ECONOMY, SERVICE)  # on top of the ledger core, in the order of their revisions
metadata = tuple(layer.metadata for layer in (LEDGER, *LAYERS))  # every table the code queries


def config() -> Config:
    """The Alembic configuration of the whole database."""
    return alembic_config(LAYERS)


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the whole database at ``url`` to ``revision`` (creating a SQLite file's folder)."""
    _upgrade(url, revision, LAYERS)


def grant_app_role(url: str, role: str, password: str | None = None) -> None:
    """Create (or update) the PostgreSQL role the service runs as, and grant it exactly
    what the service needs: read and insert the append-only tables (the journal,
    transactions, idempotency keys), read and write the others, move the chain's head,
    use the sequences, read the migration version. It owns nothing, so it cannot ALTER
    a table (disable its triggers), TRUNCATE or DROP one: only the owner that ran the
    migrations can. Without ``password`` the role is NOLOGIN (grant it to a login role,
    or ``SET ROLE`` to it); with one it logs in with that password. Run it again after
    each upgrade: tables a migration adds need their grants."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name != "postgresql":
                raise ValueError("an application role needs PostgreSQL (SQLite has no roles)")
            quote = conn.dialect.identifier_preparer.quote_identifier
            ident = quote(role)
            owned = conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                     "AND tableowner = :r"), {"r": role})
            if owned:
                raise ValueError(f"role {role!r} owns {owned} table(s): the service's role must own none")
            login = "NOLOGIN" if password is None else "LOGIN PASSWORD '" + password.replace("'", "''") + "'"
            attrs = f"NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS {login}"
            if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                conn.execute(text(f"ALTER ROLE {ident} {attrs}"))
            else:
                conn.execute(text(f"CREATE ROLE {ident} {attrs}"))
            conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ident}"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {ident}"))
            for md in metadata:
                for name in md.tables:
                    if name in APPEND_ONLY:
                        privileges = "SELECT, INSERT"
                    elif name == "journal_head":
                        privileges = "SELECT, UPDATE"  # moved forward by each batch, never deleted
                    else:
                        privileges = "SELECT, INSERT, UPDATE, DELETE"
                    conn.execute(text(f"GRANT {privileges} ON {quote(name)} TO {ident}"))
            conn.execute(text(f"GRANT SELECT ON alembic_version TO {ident}"))  # the service checks it is at head
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ident}"))
    finally:
        engine.dispose()
