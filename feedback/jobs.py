"""RQ jobs on the "feedback" queue: answers, Slack reactions and corrections become records.

The bot enqueues `feedback.jobs.record_vote` / `feedback.jobs.record_correction`
with one VoteEvent / CorrectionEvent each (specbot/contracts.py), as JSON; a
worker that could not reach the database when it answered enqueues
`feedback.jobs.record_answer` with an AnswerRecord (feedback/recording.py).
All are idempotent (a replayed Slack event changes nothing) and raise when
they cannot write (answer row not committed yet, database down), so RQ
retries them (FEEDBACK_RETRY_INTERVALS, FEEDBACK_RETRIES) and nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback import store
from feedback.models import Answer, AppliedEvent, Correction, Vote, utcnow
from feedback.store import get_engine, hash_user
from specbot.contracts import AnswerRecord, ButtonVote, ChoiceEvent, CorrectionEvent, VoteEvent
from specbot.errors import SpecbotError
from specbot.i18n import t

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


def record_answer(payload: dict[str, Any] | AnswerRecord) -> dict[str, Any]:
    """An answer whose record the worker could not write when it answered (database down)."""
    rec = AnswerRecord.from_wire(payload)
    store.record_answer(rec.job_id, rec.question, rec.result)
    return {"status": "recorded", "job_id": rec.job_id}


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
    voter = hash_user(ev.user)
    with Session(get_engine()) as db, db.begin():
        if ev.event_id and db.get(AppliedEvent, ev.event_id) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, ev.channel, ev.message_ts)
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
    author = hash_user(ev.user)
    with Session(get_engine()) as db, db.begin():
        if db.scalar(select(Correction.id).where(Correction.event_id == event_id)) is not None:
            return {"status": "duplicate"}
        answer = _find_answer(db, ev.channel, ev.answer_ts, ev.thread_ts)
        db.add(
            Correction(
                answer_id=answer.id,
                author=author,
                text=text,
                created_at=slack_time(ev.ts),
                event_id=event_id,
            )
        )
        return {"status": "new", "answer_id": answer.id}


# --- the buttons under answers and under "Which is better?" ------------------------------
def _retries_left() -> int:
    from rq import get_current_job

    job = get_current_job()
    return int(job.retries_left or 0) if job is not None else 0


def _redis() -> Any:
    from rq import get_current_job

    job = get_current_job()
    return job.connection if job is not None else None


def record_button_vote(payload: dict[str, Any] | ButtonVote) -> dict[str, Any]:
    """👍/👎 pressed under an answer: record it (feedback.interactions.press_vote), then show
    the new counts on the buttons. A press on an answer whose message is gone is recorded
    and the presser is told, privately; nothing is posted in the channel."""
    from feedback.interactions import counts_for_message, press_vote
    from specbot.slack.client import api_error, web_client, whisper
    from specbot.slack.views import answer_actions, with_actions

    ev = ButtonVote.from_wire(payload)
    lang = ev.lang or "en"
    client = web_client()
    try:
        r = press_vote(channel=ev.channel, message_ts=ev.message_ts, user=ev.user, value=ev.value,
                       action_ts=ev.action_ts, event_id=ev.event_id)  # fmt: skip
    except AnswerNotFound:
        if _retries_left() > 0:
            raise  # the answer row may not be committed yet: RQ tries again
        whisper(client, channel=ev.channel, user=ev.user, text=t("answer_gone", lang))
        return {"status": "gone"}
    if r["status"] == "duplicate" or not ev.blocks:
        return r
    conn = _redis()
    lock = conn.lock(f"specbot:lock:buttons:{ev.channel}:{ev.message_ts}", timeout=15) if conn else None
    try:
        if lock is not None:
            lock.acquire(blocking_timeout=10)
        # Read the counts again under the lock: of two racing presses, the last edit shows both.
        up, down = counts_for_message(ev.channel, ev.message_ts)
        actions = answer_actions(ev.answer_job_id, lang, up, down, try_another=down > 0, alternative=ev.alternative)
        blocks = with_actions(list(ev.blocks), actions)
        client.chat_update(channel=ev.channel, ts=ev.message_ts, text=_fallback(blocks), blocks=blocks)
        r |= {"up": up, "down": down}
    except SlackApiError as e:
        if e.response.get("error") not in ("message_not_found", "cant_update_message", "channel_not_found"):
            raise
        log.info("vote recorded; the answer message is gone (%s)", api_error(e))
        whisper(client, channel=ev.channel, user=ev.user, text=t("answer_gone", lang))
        r["status"] = "recorded_message_gone"
    finally:
        if lock is not None and lock.owned():
            lock.release()
    return r


def _fallback(blocks: list[dict[str, Any]]) -> str:
    """The message's notification text again (the answer's first section), so chat.update keeps it."""
    for b in blocks:
        if b.get("type") == "section" and (b.get("text") or {}).get("text"):
            return str(b["text"]["text"])[:3000]
    return "specbot"


def record_choice(payload: dict[str, Any] | ChoiceEvent) -> dict[str, Any]:
    """A, B or Neither under "Which is better?": a preference pair, then the message shows the
    choice (its buttons go). A second press, or one after the thread was deleted, posts nothing."""
    from feedback.interactions import record_preference
    from specbot.slack.client import api_error, web_client
    from specbot.slack.views import ab_result

    ev = ChoiceEvent.from_wire(payload)
    r = record_preference(a_job=ev.a_job, b_job=ev.b_job, choice=ev.choice, user=ev.user, role=ev.role,
                          action_ts=ev.action_ts)  # fmt: skip
    if r["status"] in ("duplicate", "stale"):
        return r
    text, blocks = ab_result(r["choice"], ev.user, ev.lang or "en")
    try:
        web_client().chat_update(channel=ev.channel, ts=ev.message_ts, text=text, blocks=blocks)
    except SlackApiError as e:
        log.info("choice recorded; the message is gone (%s)", api_error(e))
        r["message"] = "gone"
    return r
