"""USER_ID_SALT: never a public default. Unset, a random salt is made on first use and
kept in the feedback database, so every worker and bot replica that shares the
database hashes a Slack user to the same pseudonym; a weak configured salt is reported."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import ROOT

USER = "U0ALICE01"


def public_hash(salt: str, user: str = USER) -> str:
    return "u_" + hashlib.sha256(f"{salt}:{user}".encode()).hexdigest()[:24]


def forget_engines() -> None:
    """What a fresh process (another replica) starts with: no engine, no salt in memory."""
    from feedback.store import engine_for

    engine_for.cache_clear()


def test_no_configured_salt_gets_a_random_one_kept_in_the_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from feedback.store import get_engine, hash_user
    from specbot.settings import reset_settings

    monkeypatch.delenv("USER_ID_SALT", raising=False)
    reset_settings()
    first = hash_user(USER)
    assert first not in (public_hash("specbot"), public_hash(""), public_hash("change-me"))
    with get_engine().connect() as c:
        stored = c.execute(text("SELECT value FROM feedback_meta WHERE key = 'user_id_salt'")).scalar_one()
    assert len(stored) >= 32 and first == public_hash(stored)

    # Another replica: a new process, and (on PostgreSQL) its own data dir. Same pseudonym.
    forget_engines()
    if db_url.startswith("postgresql"):
        monkeypatch.setenv("SPECBOT_DATA_DIR", str(tmp_path / "other-pod"))
        reset_settings()
    assert hash_user(USER) == first
    assert hash_user("U0BOB0001") != first


def test_replicas_starting_together_agree_on_one_salt(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes create the salt at the same moment: one wins, both use it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a database on PostgreSQL; SQLite lives in one pod's data dir")
    monkeypatch.delenv("USER_ID_SALT", raising=False)
    code = f"from feedback.store import hash_user; print(hash_user({USER!r}))"
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1 and outs[0].startswith("u_")


@pytest.mark.parametrize("salt", ["specbot", "change-me", "short", "aaaaaaaaaaaaaaaaaaaaaaaa"])
def test_weak_configured_salt_is_reported(
    salt: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from feedback.store import hash_user
    from specbot.settings import reset_settings

    monkeypatch.setenv("USER_ID_SALT", salt)
    reset_settings()
    forget_engines()
    with caplog.at_level(logging.WARNING, logger="specbot.feedback"):
        h = hash_user(USER)
    assert h == public_hash(salt)  # the operator's choice is used (changing it would orphan old records)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("USER_ID_SALT is weak" in m for m in warnings), warnings
    assert not any(salt in m for m in warnings if len(salt) >= 6), "the salt itself is never logged"


def test_strong_configured_salt_is_used_and_not_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from feedback.store import hash_user
    from specbot.settings import reset_settings

    salt = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    monkeypatch.setenv("USER_ID_SALT", salt)
    reset_settings()
    forget_engines()
    with caplog.at_level(logging.WARNING, logger="specbot.feedback"):
        assert hash_user(USER) == public_hash(salt)
    assert "USER_ID_SALT" not in caplog.text
