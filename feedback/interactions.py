"""Records behind the Slack buttons, the Home tab and specs added from Slack.

- 👍/👎 buttons: the same `votes` rows as reactions, under the emoji name
  `button`: one row per (answer, voter), its value changed by the other button,
  retracted by pressing the same button again. A press is applied once (its ID
  goes into `feedback_events` in the same transaction) and in Slack time (an
  older press delivered late changes nothing).
- "Which is better?": one `preferences` row per A/B pair; the latest choice of
  the asker or a reviewer counts.
- Reviews: a reviewer approves or rejects a 👎 answer or a correction
  (`reviews`); the export's trust rules follow the decision.
- Specs added from Slack (and `specbot index` runs): `spec_uploads`, append-only.

Every function opens its own transaction and raises on database errors, so a
caller running it as an RQ job gets retries; `AnswerNotFound` means the answer
row is not committed yet (a press can overtake the worker's write).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from feedback.export import correction_status, load_records, reviewer_hashes
from feedback.jobs import AnswerNotFound, _ts, slack_time
from feedback.models import Answer, AppliedEvent, Correction, Preference, Review, SpecUpload, Vote, utcnow
from feedback.store import get_engine, hash_user

BUTTON = "button"  # the vote "emoji" of the 👍/👎 buttons
CHOICES = ("a", "b", "neither")
DECISIONS = ("approve", "reject")
KINDS = ("answer", "correction")


def _answer_by_message(db: Session, channel: str | None, message_ts: str | None) -> Answer:
    row = db.scalar(
        select(Answer).where(Answer.channel == channel, Answer.message_ts == message_ts).order_by(Answer.id.desc())
    )
    if row is None:
        raise AnswerNotFound(f"no answer recorded for channel={channel} ts={message_ts} (yet)")
    return row


def _answer_by_job(db: Session, job_id: str) -> Answer:
    row = db.scalar(select(Answer).where(Answer.job_id == job_id))
    if row is None:
        raise AnswerNotFound(f"no answer recorded for job {job_id} (yet)")
    return row


def vote_counts(db: Session, answer_id: int) -> tuple[int, int]:
    """(👍, 👎): voters whose latest standing vote, button or reaction, is up / down."""
    latest: dict[str, tuple[datetime, int]] = {}
    rows = db.execute(
        select(Vote.voter, Vote.value, Vote.added_at).where(
            Vote.answer_id == answer_id, Vote.removed_at.is_(None), Vote.value.is_not(None)
        )
    )
    for voter, value, added_at in rows:
        if value is None:  # filtered out above; keeps the type checker informed
            continue
        if voter not in latest or added_at >= latest[voter][0]:
            latest[voter] = (added_at, value)
    up = sum(1 for _, v in latest.values() if v > 0)
    down = sum(1 for _, v in latest.values() if v < 0)
    return up, down


def press_vote(
    *, channel: str, message_ts: str, user: str, value: int, action_ts: str, event_id: str
) -> dict[str, Any]:
    """A 👍 (value 1) or 👎 (-1) button press on an answer message.

    Returns status (voted | retracted | duplicate | stale), the answer's job ID, the
    counts after the press and the presser's standing button vote (1, -1 or None).
    """
    if value not in (1, -1):
        raise ValueError(f"a button vote is +1 or -1, not {value}")
    when = slack_time(action_ts)
    with Session(get_engine()) as db, db.begin():
        answer = _answer_by_message(db, channel, message_ts)
        voter = hash_user(user)
        vote = db.scalar(select(Vote).where(Vote.answer_id == answer.id, Vote.voter == voter, Vote.emoji == BUTTON))
        if db.get(AppliedEvent, event_id) is not None:
            status = "duplicate"
        elif vote is not None and vote.event_ts and _ts(action_ts) < _ts(vote.event_ts):
            status = "stale"
            db.add(AppliedEvent(event_id=event_id, kind="button"))
        else:
            if vote is None:
                vote = Vote(answer_id=answer.id, voter=voter, emoji=BUTTON, value=value, added_at=when)
                db.add(vote)
                status = "voted"
            elif vote.removed_at is None and vote.value == value:
                vote.removed_at = when  # the same button again: take the vote back
                status = "retracted"
            else:
                vote.value, vote.added_at, vote.removed_at = value, when, None
                status = "voted"
            vote.event_ts, vote.last_event_id = action_ts, event_id
            db.add(AppliedEvent(event_id=event_id, kind="button"))
        db.flush()
        up, down = vote_counts(db, answer.id)
        mine = vote.value if vote is not None and vote.removed_at is None else None
        return {"status": status, "answer_id": answer.id, "job_id": answer.job_id, "up": up, "down": down,
                "mine": mine}  # fmt: skip


def counts_for_message(channel: str, message_ts: str) -> tuple[int, int]:
    with Session(get_engine()) as db:
        return vote_counts(db, _answer_by_message(db, channel, message_ts).id)


def answer_info(*, job_id: str | None = None, channel: str | None = None, message_ts: str | None = None) -> dict:
    """What the buttons need about an answer: question, asker (hashed), sources, prompt, model."""
    with Session(get_engine()) as db:
        a = _answer_by_job(db, job_id) if job_id else _answer_by_message(db, channel, message_ts)
        return {
            "id": a.id,
            "job_id": a.job_id,
            "team": a.team,
            "channel": a.channel,
            "message_ts": a.message_ts,
            "thread_ts": a.thread_ts,
            "question": a.question,
            "asker": a.asker,
            "answer": a.answer,
            "hits": a.hits or [],
            "sources": a.sources if a.sources is not None else (a.hits or [])[:1],
            "messages": a.messages or [],
            "model": a.model,
            "timings": a.timings or {},
            "alt_of": a.alt_of,
        }


def link_alternative(*, job_id: str, alt_of_job_id: str) -> None:
    """Mark an answer as the second try ("Try another answer") of another."""
    with Session(get_engine()) as db, db.begin():
        alt = _answer_by_job(db, job_id)
        alt.alt_of = _answer_by_job(db, alt_of_job_id).id


def alternative_of(job_id: str) -> str | None:
    """The job ID of the second answer already made for this answer, if any."""
    with Session(get_engine()) as db:
        a = _answer_by_job(db, job_id)
        return db.scalar(select(Answer.job_id).where(Answer.alt_of == a.id).order_by(Answer.id))


def record_preference(
    *, a_job: str, b_job: str, choice: str, user: str, role: str, action_ts: str, source: str = "ab"
) -> dict[str, Any]:
    """The asker's or a reviewer's choice between answers A and B; the latest press counts."""
    if choice not in CHOICES:
        raise ValueError(f"choice must be one of {CHOICES}, not {choice!r}")
    if role not in ("asker", "reviewer"):
        raise ValueError("only the asker or a reviewer can choose")
    when = slack_time(action_ts)
    with Session(get_engine()) as db, db.begin():
        a, b = _answer_by_job(db, a_job), _answer_by_job(db, b_job)
        pref = db.scalar(select(Preference).where(Preference.answer_a_id == a.id, Preference.answer_b_id == b.id))
        if pref is None:
            db.add(Preference(answer_a_id=a.id, answer_b_id=b.id, choice=choice, chooser=hash_user(user),
                              chooser_role=role, source=source, created_at=when, updated_at=when,
                              action_ts=action_ts))  # fmt: skip
            return {"status": "new", "choice": choice}
        if pref.action_ts and _ts(action_ts) <= _ts(pref.action_ts):
            # The same press delivered twice, or an older one delivered late.
            return {"status": "duplicate" if action_ts == pref.action_ts else "stale", "choice": pref.choice}
        changed = pref.choice != choice
        pref.choice, pref.chooser, pref.chooser_role = choice, hash_user(user) or "", role
        pref.updated_at, pref.action_ts = when, action_ts
        return {"status": "changed" if changed else "same", "choice": choice}


def record_review(*, kind: str, target_id: int, decision: str, reviewer: str) -> dict[str, Any]:
    """A reviewer's decision on a 👎 answer or a correction; a later decision replaces it."""
    if kind not in KINDS or decision not in DECISIONS:
        raise ValueError(f"bad review {kind}/{decision}")
    with Session(get_engine()) as db, db.begin():
        target = db.get(Answer if kind == "answer" else Correction, target_id)
        if target is None:
            return {"status": "gone"}
        row = db.scalar(select(Review).where(Review.kind == kind, Review.target_id == target_id))
        if row is None:
            db.add(Review(kind=kind, target_id=target_id, decision=decision, reviewer=hash_user(reviewer) or ""))
            return {"status": "new", "decision": decision}
        same = row.decision == decision
        row.decision, row.reviewer, row.decided_at = decision, hash_user(reviewer) or "", utcnow()
        return {"status": "same" if same else "changed", "decision": decision}


def review_queue(limit: int = 10) -> list[dict[str, Any]]:
    """The latest 👎 answers and unreviewed corrections that no reviewer has decided on, newest first."""
    eng = get_engine()
    reviewers = reviewer_hashes()
    out: list[dict[str, Any]] = []
    with Session(eng) as db:
        decided = {(k, t) for k, t in db.execute(select(Review.kind, Review.target_id))}
        down = (
            select(Answer.id, Answer.question, Answer.answer, Answer.created_at, func.count(Vote.id))
            .join(Vote, Vote.answer_id == Answer.id)
            .where(Vote.removed_at.is_(None), Vote.value < 0)
            .group_by(Answer.id, Answer.question, Answer.answer, Answer.created_at)
            .order_by(Answer.created_at.desc(), Answer.id.desc())
            .limit(limit * 3)
        )
        for aid, question, answer, created, n in db.execute(down):
            if ("answer", aid) not in decided:
                out.append({"kind": "answer", "id": aid, "question": question, "text": answer, "down": int(n),
                            "at": _aware(created)})  # fmt: skip
        cors = (
            select(
                Correction.id, Correction.author, Correction.text, Correction.created_at, Answer.question, Answer.asker
            )  # fmt: skip
            .join(Answer, Answer.id == Correction.answer_id)
            .order_by(Correction.created_at.desc(), Correction.id.desc())
            .limit(limit * 3)
        )
        for cid, author, text, created, question, asker in db.execute(cors):
            if ("correction", cid) in decided:
                continue
            if correction_status(author, asker, None, reviewers) == "unreviewed":
                out.append({"kind": "correction", "id": cid, "question": question, "text": text,
                            "at": _aware(created)})  # fmt: skip
    out.sort(key=lambda x: x["at"], reverse=True)
    return out[:limit]


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)


# --- specs added from Slack -------------------------------------------------------
@dataclass
class Upload:
    doc: str
    source: str
    status: str
    added_by: str | None
    permalink: str | None
    sections: int
    tables: int
    images: int
    chunks: int
    at: datetime


def record_spec_upload(
    *,
    doc: str,
    source: str,
    status: str,
    added_by: str | None = None,
    team: str | None = None,
    channel: str | None = None,
    file_id: str | None = None,
    permalink: str | None = None,
    sections: int = 0,
    tables: int = 0,
    images: int = 0,
    chunks: int = 0,
    error: str | None = None,
    replaced: bool = False,
) -> int:
    with Session(get_engine()) as db, db.begin():
        row = SpecUpload(doc=doc, source=source, status=status, added_by=added_by, team=team, channel=channel,
                         file_id=file_id, permalink=permalink, sections=sections, tables=tables, images=images,
                         chunks=chunks, error=error, replaced=replaced)  # fmt: skip
        db.add(row)
        db.flush()
        return row.id


def latest_uploads(eng: Engine | None = None) -> dict[str, Upload]:
    """Per document, its latest successful indexing (what is in the index now)."""
    out: dict[str, Upload] = {}
    with Session(eng or get_engine()) as db:
        rows = db.scalars(
            select(SpecUpload).where(SpecUpload.status.in_(("indexed", "unchanged"))).order_by(SpecUpload.id)
        )
        for r in rows:
            prev = out.get(r.doc)
            if r.status == "unchanged" and prev is not None:
                continue  # the same content again: the earlier indexing (and who added it) still holds
            out[r.doc] = Upload(r.doc, r.source, r.status, r.added_by, r.permalink, r.sections, r.tables,
                                r.images, r.chunks, _aware(r.created_at))  # fmt: skip
    return out


# --- approval over time (Home tab chart) --------------------------------------------
def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def weekly_approval(weeks: int = 8, now: datetime | None = None, eng: Engine | None = None) -> list[dict[str, Any]]:
    """One point per week (Monday first), oldest first, the current week last.

    approval = rated answers with a positive net vote / rated answers (None when none were rated).
    """
    now = now or datetime.now(UTC)
    first = week_start(now.date()) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    recs = [r for r in load_records(eng or get_engine(), since=since, hits=False) if r.voters]
    out = []
    for i in range(weeks):
        wk = first + timedelta(weeks=i)
        rated = [r for r in recs if week_start(r.created_at.date()) == wk]
        up = sum(1 for r in rated if r.net > 0)
        out.append({"week": wk.isoformat(), "rated": len(rated), "approved": up,
                    "approval": up / len(rated) if rated else None})  # fmt: skip
    return out


def permalinks(eng: Engine | None = None) -> dict[str, str]:
    """Document -> the Slack file it was last added from (for source links)."""
    return {doc: u.permalink for doc, u in latest_uploads(eng).items() if u.source == "slack" and u.permalink}


def is_asker(job_id: str, user: str) -> bool:
    """Did `user` ask the question this answer answers? (Askers are stored hashed.)"""
    with Session(get_engine()) as db:
        asker = db.scalar(select(Answer.asker).where(Answer.job_id == job_id))
    return bool(asker) and asker == hash_user(user)
