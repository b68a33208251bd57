"""RQ jobs on the "feedback" queue: Slack reactions and corrections become records.

The bot enqueues `feedback.jobs.record_vote` / `feedback.jobs.record_correction`
with one dict each. Both are idempotent (a replayed Slack event changes
nothing) and raise when they cannot write (answer row not committed yet,
database down), so RQ retries them and nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Answer, AppliedEvent, Correction, Vote, utcnow
from feedback.store import get_engine, hash_user
from specbot.errors import SpecbotError
from specbot.settings import get_settings

log = logging.getLogger("specbot.feedback")


class AnswerNotFound(SpecbotError):
    """The answer row is not there (yet): the vote may have overtaken it. RQ retries."""


def emoji_name(reaction: str) -> str:
    """Slack sends skin tones as `+1::skin-tone-3`; the tone does not change the vote."""
    return reaction.split("::", 1)[0].strip(":")


def emoji_value(reaction: str) -> int | None:
    return get_settings().emoji_values.get(emoji_name(reaction))


def slack_time(ts: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC) if ts else utcnow()
    except ValueError:
        return utcnow()


def _ts(ts: str | None) -> float:
    try:
        return float(ts) if ts else 0.0
    except ValueError:
        return 0.0


def _find_answer(db: Session, channel: str | None, message_ts: str | None, thread_ts: str | None = None) -> Answer:
    row = None
    if message_ts:
        row = db.scalar(
            select(Answer).where(Answer.channel == channel, Answer.message_ts == message_ts).order_by(Answer.id.desc())
        )
    if row is None and thread_ts and not message_ts:
        # A correction that names only its thread applies to the thread's latest answer.
        row = db.scalar(
            select(Answer).where(Answer.channel == channel, Answer.thread_ts == thread_ts).order_by(Answer.id.desc())
        )
    if row is None:
        raise AnswerNotFound(f"no answer recorded for channel={channel} ts={message_ts or thread_ts} (yet)")
    return row


def record_vote(event: dict[str, Any]) -> dict[str, Any]:
    """A reaction added to or removed from an answer message.

    One row per (answer, voter, emoji): adding sets/clears removed_at and moves
    added_at to the event time; removing sets removed_at. Events older than the
    last one applied to the row (a delayed retry) are ignored.
    """
    event_id = event.get("event_id") or None
    reaction = emoji_name(str(event.get("reaction") or ""))
    if not reaction or not event.get("user"):
        log.warning("ignoring malformed vote event %s", event_id)
        return {"status": "ignored"}
    when = slack_time(event.get("event_ts"))
    with Session(get_engine()) as db, db.begin():
        if event_id and db.get(AppliedEvent, event_id) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, event.get("channel"), event.get("message_ts"))
        voter = hash_user(str(event["user"]))
        vote = db.scalar(select(Vote).where(Vote.answer_id == answer.id, Vote.voter == voter, Vote.emoji == reaction))
        status = "stale"
        if vote is None:
            vote = Vote(answer_id=answer.id, voter=voter, emoji=reaction, added_at=when)
            db.add(vote)
            status = "new"
        if vote.event_ts is None or _ts(event.get("event_ts")) >= _ts(vote.event_ts):
            vote.value = emoji_value(reaction)
            if event.get("added", True):
                vote.added_at = when
                vote.removed_at = None
                status = "added" if status != "new" else status
            else:
                # A removal whose add we never saw still records the retraction,
                # so a late add (older event_ts) cannot revive it.
                vote.removed_at = when
                status = "removed"
            vote.event_ts = event.get("event_ts")
            vote.last_event_id = event_id
        if event_id:
            db.add(AppliedEvent(event_id=event_id, kind="vote"))
        return {"status": status, "answer_id": answer.id, "value": vote.value}


def record_correction(event: dict[str, Any]) -> dict[str, Any]:
    """A user's corrected answer, posted in the answer's thread."""
    text = (event.get("text") or "").strip()
    event_id = event.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
    if not text or not event.get("user"):
        log.warning("ignoring empty correction event %s", event_id)
        return {"status": "ignored"}
    with Session(get_engine()) as db, db.begin():
        if db.scalar(select(Correction.id).where(Correction.event_id == event_id)) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, event.get("channel"), event.get("answer_ts"), event.get("thread_ts"))
        db.add(
            Correction(
                answer_id=answer.id,
                author=hash_user(str(event["user"])),
                text=text,
                created_at=slack_time(event.get("ts")),
                event_id=event_id,
            )
        )
        return {"status": "new", "answer_id": answer.id}
