"""Reactions and corrections -> feedback jobs on the `feedback` queue.

They go through RQ rather than straight into the database so that a database
outage only delays them: the job retries with backoff until it lands.
feedback/jobs.py (issue "Feedback to RLHF") applies them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import redis
from rq import Queue, Retry

from workers.queue import FEEDBACK_QUEUE

VOTE_JOB = "feedback.jobs.record_vote"
CORRECTION_JOB = "feedback.jobs.record_correction"
RETRY = {"max": 5, "interval": [5, 30, 120, 600, 1800]}
DEFAULT_EMOJI = "+1:1,thumbsup:1,-1:-1,thumbsdown:-1,white_check_mark:1,heavy_check_mark:1,x:-1"
_SKIN = re.compile(r"::skin-tone-\d$")


def parse_emoji_map(spec: str) -> dict[str, int]:
    """`+1:1,-1:-1` -> {"+1": 1, "-1": -1}. The value is after the last colon."""
    out: dict[str, int] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.rpartition(":")
        if not name:
            raise ValueError(f"FEEDBACK_EMOJI entry {item!r} is not name:value")
        out[name.strip(":").strip()] = int(value)
    return out


def base_emoji(reaction: str) -> str:
    """`+1::skin-tone-3` is still a thumbs up."""
    return _SKIN.sub("", reaction)


def vote_value(reaction: str, mapping: dict[str, int]) -> int | None:
    return mapping.get(base_emoji(reaction))


def _jid(prefix: str, key: str) -> str:
    return f"{prefix}-" + hashlib.sha1(key.encode()).hexdigest()[:24]


def _enqueue(conn: redis.Redis, func: str, arg: dict[str, Any], job_id: str):  # type: ignore[no-untyped-def]
    q = Queue(FEEDBACK_QUEUE, connection=conn)
    # A replayed event maps to the same job ID; RQ would overwrite a queued job
    # with the same ID, so claim it first (and keep the first one).
    if not conn.set(f"specbot:job:{job_id}", "1", nx=True, ex=7 * 24 * 3600):
        return None
    return q.enqueue(
        func,
        arg,
        job_id=job_id,
        retry=Retry(max=RETRY["max"], interval=RETRY["interval"]),
        result_ttl=7 * 24 * 3600,
        failure_ttl=30 * 24 * 3600,
    )


def enqueue_vote(conn: redis.Redis, vote: dict[str, Any]):  # type: ignore[no-untyped-def]
    """vote: team, channel, message_ts, user, reaction, added, event_id, event_ts (+ value)."""
    return _enqueue(conn, VOTE_JOB, vote, _jid("vote", vote["event_id"]))


def enqueue_correction(conn: redis.Redis, corr: dict[str, Any]):  # type: ignore[no-untyped-def]
    """corr: team, channel, thread_ts, answer_ts, user, text, event_id, ts.

    Keyed by the reply message, not the event: one reply can arrive both as a
    `message` and an `app_mention` event (different event IDs) and is one correction.
    """
    return _enqueue(conn, CORRECTION_JOB, corr, _jid("corr", f"{corr['team']}:{corr['channel']}:{corr['ts']}"))
