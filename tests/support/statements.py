"""What a store sends to its database, statement by statement, for tests that count them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

__all__ = ["record_statements"]


def record_statements(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """A list that fills with (statement, autocommit) for every statement ``store`` runs
    from now on. On PostgreSQL the hot statements go to libpq directly (ledger.sql.wire),
    not through SQLAlchemy, so they are caught there, and the others at psycopg's cursors
    (SQLAlchemy's go through them too); on SQLite, at SQLAlchemy's
    ``before_cursor_execute``."""
    seen: list[tuple[str, bool]] = []
    if store.dialect == "postgresql":
        import psycopg

        original = psycopg.Cursor.execute

        def execute(self: psycopg.Cursor[Any], query: Any, params: Any = None, **kw: Any) -> Any:
            text = query if isinstance(query, str) else query.decode() if isinstance(query, bytes) else str(query)
            seen.append((text, self.connection.autocommit))
            return original(self, query, params, **kw)

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)

        from ledger.sql import wire

        send = wire._send

        def sent(pg: psycopg.Connection[Any], statements: Any, *args: Any) -> Any:
            seen.extend((sql, pg.autocommit) for sql, _params in statements)
            return send(pg, statements, *args)

        monkeypatch.setattr(wire, "_send", sent)
    else:
        event.listen(store.engine, "before_cursor_execute", lambda conn, cursor, statement, *a: seen.append(
            (statement, False)))
    return seen
