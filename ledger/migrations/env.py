"""Alembic environment: migrations run on the connection `ledger.sql.upgrade` passes in,
with the MetaData of every layer `ledger.sql.alembic_config` was given."""

from alembic import context
from sqlalchemy import create_engine

config = context.config
connection = config.attributes.get("connection")
# None under the plain alembic command: autogenerate then refuses, rather than proposing
# to drop the tables of layers it was not told about.
target_metadata = config.attributes.get("target_metadata")


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # plain `alembic -x url=... upgrade head`
    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as conn:
        _run(conn)
