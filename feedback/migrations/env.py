"""Alembic environment for the feedback database.

Called programmatically by feedback.store.migrate() (which passes an open
connection) or from the alembic CLI with feedback/alembic.ini (URL from settings).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from feedback.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    from specbot.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or get_settings().db_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from specbot.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or get_settings().db_url
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure_and_run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
