"""RQ jobs. `answer` is retried with backoff (RQ is the only retry layer: the LLM
client makes one attempt per job attempt); `on_failure` tells the asker what is
happening after each failed attempt and turns the last one into an error answer.

Exactly once. The order in an attempt is: post/edit the job's one Slack message
(its ts is kept in Redis the moment it is posted), then mark the job ANSWERED in
Redis, then record the exchange in the feedback database. A retry of a job marked
ANSWERED delivers nothing again; a retry that comes between delivery and the mark
edits the same message again (same text); the failure callback never touches a
message once the job is marked ANSWERED.

Payloads are the contracts in specbot/contracts.py, read with `from_wire`: an
older payload is upgraded, a newer one refused (the attempt fails; RQ retries it).
"""

from __future__ import annotations

import json
import logging
import time
from types import TracebackType
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from specbot.contracts import ANSWER_KEEP_S, AnswerResult, QuestionJob
from specbot.settings import get_settings
from workers.delivery import make_delivery
from workers.llm import LLMBadRequest, LLMTimeout, LLMUnavailable

log = logging.getLogger("specbot.worker")
# Exactly-once marker: the delivered answer's public part (no prompt, no context
# blocks: those go to the feedback database), as long as the job's own record lives.
ANSWERED = "specbot:answered:{}"
ERROR = "specbot:error:{}"
KEEP_S = ANSWER_KEEP_S


def error_text(reason: str) -> str:
    return f"I could not answer this right now: {reason}"


def stale_text(waited_s: float) -> str:
    return (
        f"Sorry, I could not get to your question in time (it waited {waited_s / 60:.0f} minutes, "
        "and an answer now might no longer fit). Please ask again."
    )


def reason_for(exc: BaseException | None) -> str:
    if isinstance(exc, LLMTimeout):
        return "the language model took too long to answer."
    if isinstance(exc, LLMUnavailable):
        return "the language model server is not reachable. Please try again in a few minutes."
    name = type(exc).__name__ if exc else "unknown error"
    if name == "AbandonedJobError":
        return "the worker handling it stopped unexpectedly."
    if name == "JobTimeoutException":
        return "it took too long."
    return f"an internal error occurred ({name})."


def retry_notice(exc: BaseException | None, job: Job) -> str:
    """What the asker sees between attempts: what went wrong, and when the next try is."""
    try:
        wait = job.get_retry_interval()
    except Exception:  # no interval known: say "shortly"
        wait = 0
    attempt = (job.number_of_retries or 0) + 1
    when = f"in about {wait} s" if wait else "shortly"
    progress = f"attempt {attempt} of {attempt + (job.retries_left or 0)}"
    if isinstance(exc, LLMUnavailable) and not isinstance(exc, LLMTimeout):
        return (
            "The language model server is not reachable right now (it may be restarting). "
            f"I'll try again {when} ({progress})…"
        )
    return f"Having trouble answering ({reason_for(exc)}); I'll try again {when} ({progress})…"


def waited_too_long(question: QuestionJob, job: Job) -> float | None:
    """Seconds the question has waited, if past MAX_QUESTION_AGE_S (0: no limit)."""
    limit = get_settings().max_question_age_s
    if limit <= 0:
        return None
    since = question.asked_at or (job.enqueued_at.timestamp() if job.enqueued_at else None)
    if since is None:
        return None
    waited = time.time() - since
    return waited if waited > limit else None


def _slim(result: AnswerResult) -> str:
    return json.dumps(result.public(), ensure_ascii=False)


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    """The `answers` job: QuestionJob in, AnswerResult.public() out."""
    from workers.answer import answer_question

    job = get_current_job()
    assert job is not None, "answer() runs inside an RQ worker; `specbot ask --local` calls answer_question()"
    question = QuestionJob.from_wire(payload)
    conn = job.connection
    done = conn.get(ANSWERED.format(job.id))
    if done:
        # A retry after the answer was delivered (e.g. the worker died while
        # recording it): deliver nothing again, just finish the bookkeeping.
        result = AnswerResult.from_wire(json.loads(done))
        _record(question, result, job.id)
        return result.public()
    delivery = make_delivery(question, conn, job.id)
    waited = waited_too_long(question, job)
    if waited is not None:
        # Hours-old answers help no one and confuse a thread that moved on.
        result = AnswerResult.failure(stale_text(waited))
    else:
        try:
            result = answer_question(
                question.question,
                history=[t.model_dump() for t in question.history],
                doc=question.doc,
                k=question.k,
                on_delta=delivery.update,
                # The model down on the last attempt: the labelled quote from the top
                # section beats an error (earlier attempts raise, so RQ retries them).
                quote_on_failure=not (job.retries_left or 0),
            )
        except LLMBadRequest as e:
            # Retrying a rejected request cannot help: answer with the reason now.
            result = AnswerResult.failure(error_text(str(e)))
    result = result.model_copy(update={"message_ts": delivery.finish(result)})
    conn.set(ANSWERED.format(job.id), _slim(result), ex=KEEP_S)
    _record(question, result, job.id)
    return result.public()


def _record(question: QuestionJob, result: AnswerResult, job_id: str) -> None:
    """To the feedback database, or (database down) onto the retried feedback queue: never dropped."""
    from feedback.recording import record_or_queue

    job = get_current_job()
    assert job is not None
    record_or_queue(job.connection, job_id, question, result)


def _question_of(job: Job) -> QuestionJob | None:
    try:
        return QuestionJob.from_wire(job.args[0])
    except Exception:  # a payload we cannot read has no one to tell
        log.exception("job %s carries no readable question", job.id)
        return None


def on_failure(
    job: Job,
    connection: redis.Redis,
    typ: type[BaseException] | None,
    value: BaseException | None,
    tb: TracebackType | None,
) -> None:
    """Called by RQ after every failed attempt, before it decides to retry."""
    retries_left = job.retries_left or 0
    if retries_left > 0:
        if connection.exists(ANSWERED.format(job.id)):
            return  # delivered: a failure after that (recording, a dead worker) must not touch it
        question = _question_of(job)
        if question is not None:
            make_delivery(question, connection, job.id).notice(retry_notice(value, job))
        return
    final_failure(job, connection, value)


def final_failure(job: Job, connection: redis.Redis, exc: BaseException | None) -> None:
    if connection.get(ANSWERED.format(job.id)):
        return
    text = error_text(reason_for(exc))
    # NX: of two racing failure paths only one posts the error.
    if connection.set(ERROR.format(job.id), json.dumps(AnswerResult.failure(text).public()), nx=True, ex=KEEP_S):
        question = _question_of(job)
        if question is not None:
            make_delivery(question, connection, job.id).fail(text)
