"""Record an answer without ever losing it.

The worker calls `record_or_queue` after delivering an answer. The record goes
straight to the feedback database; when that fails (database down, not created
yet, unreachable) it is queued as an `AnswerRecord` on the RQ "feedback" queue,
whose job retries on the FEEDBACK_RETRY_INTERVALS schedule until the database is
back. Votes and corrections that arrive meanwhile find no answer row and retry on
the same schedule, so they land after it. An outage delays records, never drops them.
"""

from __future__ import annotations

import logging

import redis
from rq.job import Job

from feedback.store import record_answer
from specbot.contracts import (
    AnswerRecord,
    AnswerResult,
    QuestionJob,
    answer_record_job_id,
    enqueue_answer_record,
    fetch_job,
)

log = logging.getLogger("specbot.feedback")


def record_or_queue(conn: redis.Redis, job_id: str, question: QuestionJob, result: AnswerResult) -> Job | None:
    """None when recorded now; else the queued record job (an existing one for this answer is reused).

    Raises only when Redis fails too: then the answer job's own retry records it.
    """
    try:
        record_answer(job_id, question, result)
        return None
    except Exception as e:  # any failure to write: the queue keeps the record until it can be written
        log.warning(
            "feedback database unavailable (%s); the record of %s is queued for retry", type(e).__name__, job_id
        )
    rec = AnswerRecord.of(job_id, question, result)
    job = enqueue_answer_record(conn, rec)
    if job is None:  # queued before (e.g. by an earlier attempt of the same answer job)
        job = fetch_job(conn, answer_record_job_id(job_id))
    return job
