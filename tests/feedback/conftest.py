"""Fixtures for the feedback tests: the same tests on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TEST_PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same tests on SQLite (default, in the data dir) and on the real PostgreSQL,
    in a fresh schema (search_path) that is dropped afterwards: other runs are untouched."""
    from specbot.settings import get_settings, reset_settings

    if request.param == "sqlite":
        yield get_settings().db_url
        return
    schema = "specbot_fb_" + uuid.uuid4().hex[:10]
    admin = create_engine(TEST_PG_URL)
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:
        pytest.fail(f"PostgreSQL at {TEST_PG_URL} is not reachable: {e}")
    url = f"{TEST_PG_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings()
    try:
        yield url
    finally:
        from feedback.store import engine_for

        engine_for(url).dispose()
        engine_for.cache_clear()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
