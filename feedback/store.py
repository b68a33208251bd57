"""Feedback database access (DATABASE_URL; default SQLite in the data dir).

The schema belongs to Alembic: the first use of a URL in a process runs
`upgrade head` (under a lock, so parallel workers do not race), instead of
create_all, so existing databases move forward with the code.

User IDs are stored as salted hashes. The salt is USER_ID_SALT when set (a weak
one is reported); unset, a random salt is made on the first use of the database
and kept in it (`feedback_meta`), so every bot and worker replica that shares the
database makes the same pseudonym for a user, on any host, with no shared disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import secrets
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feedback.models import Answer, Meta
from specbot.contracts import AnswerResult, QuestionJob
from specbot.errors import SpecbotError
from specbot.logs import redact_url
from specbot.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL advisory lock key for "feedback schema migration".
_PG_LOCK_KEY = 5_170_812_026
_lock = threading.Lock()
log = logging.getLogger("specbot.feedback")
# A database that does not answer (host down, packets dropped) fails the attempt in
# this many seconds instead of hanging the job; the job's retry tries again.
PG_CONNECT_TIMEOUT_S = 10
SALT_KEY = "user_id_salt"
# Published values (older defaults, the examples' placeholders): hashes made with
# them can be reversed by hashing every Slack ID.
PUBLIC_SALTS = {"specbot", "change-me", "changeme", "salt", "secret", "password", "test"}
MIN_SALT_CHARS = 16
# (database URL, configured salt) -> the salt in use; filled when the engine is made.
_salts: dict[tuple[str, str], str] = {}


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


def salt_is_weak(salt: str) -> bool:
    return salt.strip().lower() in PUBLIC_SALTS or len(salt) < MIN_SALT_CHARS or len(set(salt)) < 8


def _load_salt(eng: Engine, configured: str) -> str:
    """The salt in use for this database: USER_ID_SALT, else the one stored in it (made once)."""
    with Session(eng) as db:
        stored = db.get(Meta, SALT_KEY)
        stored_value = stored.value if stored else None
        had_records = db.scalar(select(Answer.id).limit(1)) is not None
    if configured:
        if salt_is_weak(configured):
            # Never the value itself: a log line is no place for it.
            log.warning(
                "USER_ID_SALT is weak (short, repetitive or a published example): Slack user IDs can be "
                "recovered from their hashes by trying every ID. Set a long random value "
                "(`openssl rand -hex 32`), or unset it so that a random salt is kept in the feedback database. "
                "Records hashed with the old salt will not match new ones."
            )
        if stored_value is not None and stored_value != configured:
            log.warning(
                "USER_ID_SALT is set but the feedback database holds a generated salt: records made with "
                "that one will not match new ones (unset USER_ID_SALT to keep using it)."
            )
        return configured
    if stored_value is not None:
        return stored_value
    try:
        with Session(eng) as db, db.begin():
            db.add(Meta(key=SALT_KEY, value=secrets.token_hex(32)))
        log.warning(
            "USER_ID_SALT is not set: generated a random salt and stored it in the feedback database%s.",
            " (records made before were hashed with the previous salt and will not match new ones)"
            if had_records
            else "",
        )
    except IntegrityError:
        pass  # another replica stored one first: everyone uses that one
    with Session(eng) as db:
        row = db.get(Meta, SALT_KEY)
        assert row is not None
        return row.value


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql") and "connect_timeout" not in url:
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    eng = create_engine(url, pool_pre_ping=True, **kwargs)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _sqlite_pragmas)
    with _lock:
        try:
            migrate(eng)
            # Made here, outside any caller's transaction (SQLite allows one writer at a time).
            configured = get_settings().user_id_salt.get_secret_value()
            _salts[(url, configured)] = _load_salt(eng, configured)
        except Exception as e:
            eng.dispose()
            engine_for.cache_clear()  # the next call tries again (e.g. the database was down)
            raise SpecbotError(f"cannot open the feedback database {redact_url(url)}: {e}") from e
    return eng


def get_engine(url: str | None = None) -> Engine:
    return engine_for(url or get_settings().db_url)


def session(url: str | None = None) -> Session:
    return Session(get_engine(url), expire_on_commit=False)


def user_salt(url: str | None = None) -> str:
    """The salt of the user-ID hashes for this database (see the module doc)."""
    url = url or get_settings().db_url
    configured = get_settings().user_id_salt.get_secret_value()
    eng = get_engine(url)
    key = (url, configured)
    if key not in _salts:  # USER_ID_SALT changed since the engine was made
        with _lock:
            _salts[key] = _load_salt(eng, configured)
    return _salts[key]


def hash_user(user: str | None, url: str | None = None) -> str | None:
    """Slack user IDs are stored as salted hashes (privacy by default)."""
    if not user:
        return user
    s = get_settings()
    if not s.feedback_hash_users:
        return user
    return "u_" + hashlib.sha256(f"{user_salt(url)}:{user}".encode()).hexdigest()[:24]


def record_answer(
    job_id: str,
    question: QuestionJob | Mapping[str, Any],
    result: AnswerResult | Mapping[str, Any],
    url: str | None = None,
    alt_of_job: str | None = None,
) -> None:
    """Idempotent: a retried job updates its one row instead of adding another.

    A later record fills in, never erases: a retried answer job re-records from its
    slim exactly-once marker (no prompt, no context), and the prompt stays.
    `alt_of_job`: this answer is the "Try another answer" of that job's answer.
    """
    question, result = QuestionJob.from_wire(question), AnswerResult.from_wire(result)
    asker = hash_user(question.user, url)  # before the transaction: it may read the salt
    hits = [h.model_dump(mode="json") for h in (result.hits or result.sources)]
    sources = [h.model_dump(mode="json") for h in result.sources]
    messages = [m.model_dump(mode="json") for m in result.messages]
    timings = result.timings.model_dump(mode="json", exclude_none=True)
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
        row.message_ts = result.message_ts or row.message_ts
        row.asker = asker
        row.question = question.question
        row.hits = hits or row.hits or []
        row.sources = sources or row.sources
        if first is not None:
            row.alt_of = first.id
            # The second answer answers the same person: trust rules follow the first asker.
            row.asker = row.asker or first.asker
        row.messages = messages or row.messages or []
        row.answer = result.answer
        row.model = result.model or row.model
        row.timings = timings or row.timings or {}


def get_answer(job_id: str, url: str | None = None) -> Answer | None:
    with Session(get_engine(url), expire_on_commit=False) as db:
        return db.scalar(select(Answer).where(Answer.job_id == job_id))
