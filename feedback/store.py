"""Feedback database access (DATABASE_URL; default SQLite in the data dir)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from feedback.models import Answer, Base
from specbot.settings import get_settings


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    eng = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(eng)
    return eng


def get_engine(url: str | None = None) -> Engine:
    return engine_for(url or get_settings().db_url)


def hash_user(user: str | None) -> str | None:
    """Slack user IDs are stored as salted hashes (privacy by default)."""
    if not user:
        return user
    salt = get_settings().user_id_salt.get_secret_value()
    return "u_" + hashlib.sha256(f"{salt}:{user}".encode()).hexdigest()[:24]


def record_answer(job_id: str, payload: dict[str, Any], result: dict[str, Any], url: str | None = None) -> None:
    """Idempotent: a retried job updates its one row instead of adding another."""
    with Session(get_engine(url)) as db, db.begin():
        row = db.scalar(select(Answer).where(Answer.job_id == job_id))
        if row is None:
            row = Answer(job_id=job_id)
            db.add(row)
        row.team = payload.get("team")
        row.channel = payload.get("channel")
        row.thread_ts = payload.get("thread_ts")
        row.question_ts = payload.get("ts")
        row.message_ts = result.get("message_ts")
        row.asker = hash_user(payload.get("user"))
        row.question = payload["question"]
        row.hits = result.get("sources", [])
        row.messages = result.get("messages", [])
        row.answer = result.get("answer", "")
        row.model = result.get("model")
        row.timings = result.get("timings", {})


def get_answer(job_id: str, url: str | None = None) -> Answer | None:
    with Session(get_engine(url)) as db:
        return db.scalar(select(Answer).where(Answer.job_id == job_id))
