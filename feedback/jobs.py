"""RQ jobs on the "feedback" queue: Slack reactions and corrections become records.

The bot enqueues `feedback.jobs.record_vote` / `feedback.jobs.record_correction`
with one VoteEvent / CorrectionEvent each (specbot/contracts.py), as JSON.
Both are idempotent (a replayed Slack event changes nothing) and raise when
they cannot write (answer row not committed yet, database down), so RQ
retries them and nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Answer, AppliedEvent, Correction, Vote, utcnow
from feedback.store import get_engine, hash_user
from specbot.contracts import CorrectionEvent, VoteEvent
from specbot.errors import SpecbotError

log = logging.getLogger("specbot.feedback")


class AnswerNotFound(SpecbotError):
    """The answer row is not there (yet): the vote may have overtaken it. RQ retries."""


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


def record_vote(payload: dict[str, Any] | VoteEvent) -> dict[str, Any]:
    """A reaction added to or removed from an answer.

    One row per (answer, voter, emoji): adding sets/clears removed_at and moves
    added_at to the event time; removing sets removed_at. Events older than the
    last one applied to the row (a delayed retry) are ignored. The vote's value
    is the one the bot decided (VoteEvent.value).
    """
    ev = VoteEvent.from_wire(payload)
    if not ev.reaction or not ev.user:
        log.warning("ignoring malformed vote event %s", ev.event_id)
        return {"status": "ignored"}
    when = slack_time(ev.event_ts)
    with Session(get_engine()) as db, db.begin():
        if ev.event_id and db.get(AppliedEvent, ev.event_id) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, ev.channel, ev.message_ts)
        voter = hash_user(ev.user)
        vote = db.scalar(
            select(Vote).where(Vote.answer_id == answer.id, Vote.voter == voter, Vote.emoji == ev.reaction)
        )
        status = "stale"
        if vote is None:
            vote = Vote(answer_id=answer.id, voter=voter, emoji=ev.reaction, added_at=when)
            db.add(vote)
            status = "new"
        if vote.event_ts is None or _ts(ev.event_ts) >= _ts(vote.event_ts):
            vote.value = ev.value
            if ev.added:
                vote.added_at = when
                vote.removed_at = None
                status = "added" if status != "new" else status
            else:
                # A removal whose add we never saw still records the retraction,
                # so a late add (older event_ts) cannot revive it.
                vote.removed_at = when
                status = "removed"
            vote.event_ts = ev.event_ts
            vote.last_event_id = ev.event_id
        if ev.event_id:
            db.add(AppliedEvent(event_id=ev.event_id, kind="vote"))
        return {"status": status, "answer_id": answer.id, "value": vote.value}


def record_correction(payload: dict[str, Any] | CorrectionEvent) -> dict[str, Any]:
    """A user's corrected answer, posted in the answer's thread."""
    ev = CorrectionEvent.from_wire(payload)
    text = ev.text.strip()
    event_id = ev.event_id or f"{ev.channel}:{ev.ts}"
    if not text or not ev.user:
        log.warning("ignoring empty correction event %s", event_id)
        return {"status": "ignored"}
    with Session(get_engine()) as db, db.begin():
        if db.scalar(select(Correction.id).where(Correction.event_id == event_id)) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, ev.channel, ev.answer_ts, ev.thread_ts)
        db.add(
            Correction(
                answer_id=answer.id,
                author=hash_user(ev.user),
                text=text,
                created_at=slack_time(ev.ts),
                event_id=event_id,
            )
        )
        return {"status": "new", "answer_id": answer.id}
