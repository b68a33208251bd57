"""RQ jobs. `answer` is retried with backoff; `on_failure` turns the last failure
into a user-facing error answer. A retry never produces a second answer: the
delivered result is recorded in Redis under the job ID before anything else.

Payloads are the contracts in specbot/contracts.py, read with `from_wire`: an
older payload is upgraded, a newer one refused (the attempt fails; RQ retries it).
"""

from __future__ import annotations

import json
import logging
from types import TracebackType
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from specbot.contracts import AnswerResult, QuestionJob
from workers.delivery import make_delivery
from workers.llm import LLMBadRequest, LLMUnavailable

log = logging.getLogger("specbot.worker")
ANSWERED = "specbot:answered:{}"
ERROR = "specbot:error:{}"
KEEP_S = 7 * 24 * 3600


def error_text(reason: str) -> str:
    return f"I could not answer this right now: {reason}"


def reason_for(exc: BaseException | None) -> str:
    if isinstance(exc, LLMUnavailable):
        return "the language model server is not reachable. Please try again in a few minutes."
    name = type(exc).__name__ if exc else "unknown error"
    if name == "AbandonedJobError":
        return "the worker handling it stopped unexpectedly."
    if name == "JobTimeoutException":
        return "it took too long."
    return f"an internal error occurred ({name})."


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
    try:
        result = answer_question(
            question.question,
            history=[t.model_dump() for t in question.history],
            doc=question.doc,
            k=question.k,
            on_delta=delivery.update,
        )
    except LLMBadRequest as e:
        # Retrying a rejected request cannot help: answer with the reason now.
        result = AnswerResult.failure(error_text(str(e)))
    result = result.model_copy(update={"message_ts": delivery.finish(result)})
    conn.set(ANSWERED.format(job.id), json.dumps(result.to_wire(), ensure_ascii=False), ex=KEEP_S)
    _record(question, result, job.id)
    return result.public()


def _record(question: QuestionJob, result: AnswerResult, job_id: str) -> None:
    try:
        from feedback.store import record_answer

        record_answer(job_id, question, result)
    except Exception:  # an answer already delivered must not be retried for this
        log.exception("could not record answer %s", job_id)


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
        question = _question_of(job)
        if question is not None:
            make_delivery(question, connection, job.id).notice(
                f"Having trouble answering ({reason_for(value)}); retrying shortly…"
            )
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
