"""Feedback database access (DATABASE_URL; default SQLite in the data dir).

The schema belongs to Alembic: the first use of a URL in a process runs
`upgrade head` (under a lock, so parallel workers do not race), instead of
create_all, so existing databases move forward with the code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.orm import Session

from feedback.models import Answer
from specbot.contracts import AnswerResult, QuestionJob
from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL advisory lock key for "feedback schema migration".
_PG_LOCK_KEY = 5_170_812_026
_lock = threading.Lock()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextlib.contextmanager
def _migration_lock(eng: Engine) -> Iterator[Any]:
    """One migrator at a time per database, across processes."""
    if eng.dialect.name == "postgresql":
        with eng.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
        return
    db = eng.url.database
    lock_path = Path(db + ".migrate.lock") if db and db != ":memory:" else None
    fh = open(lock_path, "a") if lock_path else None  # noqa: SIM115 - closed below
    try:
        if fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
        with eng.connect() as conn:
            yield conn
    finally:
        if fh:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


def migrate(eng: Engine, revision: str = "head") -> None:
    """`alembic upgrade head` on this engine's database."""
    from alembic import command

    cfg = alembic_config(eng.url.render_as_string(hide_password=False))
    with _migration_lock(eng) as conn:
        tables = set(inspect(conn).get_table_names())
        cfg.attributes["connection"] = conn
        if "answers" in tables and "alembic_version" not in tables:
            # A database made by the first release (create_all, answers only):
            # adopt it at revision 0001 and migrate forward from there.
            command.stamp(cfg, "0001")
        command.upgrade(cfg, revision)
        conn.commit()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    # Several worker processes write votes: wait for the lock instead of failing at once.
    cur.execute("PRAGMA busy_timeout=15000")
    cur.close()


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    eng = create_engine(url, pool_pre_ping=True)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _sqlite_pragmas)
    with _lock:
        try:
            migrate(eng)
        except Exception as e:
            eng.dispose()
            engine_for.cache_clear()  # the next call tries again (e.g. the database was down)
            raise SpecbotError(f"cannot open the feedback database {redact_url(url)}: {e}") from e
    return eng


def get_engine(url: str | None = None) -> Engine:
    return engine_for(url or get_settings().db_url)


def session(url: str | None = None) -> Session:
    return Session(get_engine(url), expire_on_commit=False)


def hash_user(user: str | None) -> str | None:
    """Slack user IDs are stored as salted hashes (privacy by default)."""
    if not user:
        return user
    s = get_settings()
    if not s.feedback_hash_users:
        return user
    salt = s.user_id_salt.get_secret_value()
    return "u_" + hashlib.sha256(f"{salt}:{user}".encode()).hexdigest()[:24]


def record_answer(
    job_id: str,
    question: QuestionJob | Mapping[str, Any],
    result: AnswerResult | Mapping[str, Any],
    url: str | None = None,
    alt_of_job: str | None = None,
) -> None:
    """Idempotent: a retried job updates its one row instead of adding another.

    `alt_of_job`: this answer is the "Try another answer" of that job's answer.
    """
    question, result = QuestionJob.from_wire(question), AnswerResult.from_wire(result)
    with Session(get_engine(url)) as db, db.begin():
        first = db.scalar(select(Answer).where(Answer.job_id == alt_of_job)) if alt_of_job else None
        row = db.scalar(select(Answer).where(Answer.job_id == job_id))
        if row is None:
            row = Answer(job_id=job_id)
            db.add(row)
        row.team = question.team
        row.channel = question.channel
        row.thread_ts = question.thread_ts
        row.question_ts = question.ts
        row.message_ts = result.message_ts
        row.asker = hash_user(question.user)
        row.question = question.question
        hits = result.hits or result.sources
        row.hits = [h.model_dump(mode="json") for h in hits]
        row.sources = [h.model_dump(mode="json") for h in result.sources]
        if first is not None:
            row.alt_of = first.id
            # The second answer answers the same person: trust rules follow the first asker.
            row.asker = row.asker or first.asker
        row.messages = [m.model_dump(mode="json") for m in result.messages]
        row.answer = result.answer
        row.model = result.model
        row.timings = result.timings.model_dump(mode="json", exclude_none=True)


def get_answer(job_id: str, url: str | None = None) -> Answer | None:
    with Session(get_engine(url), expire_on_commit=False) as db:
        return db.scalar(select(Answer).where(Answer.job_id == job_id))
