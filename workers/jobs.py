"""RQ jobs. `answer` is retried with backoff; `on_failure` turns the last failure
into a user-facing error answer. A retry never produces a second answer: the
delivered result is recorded in Redis under the job ID before anything else.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rq import get_current_job

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
    from workers.answer import answer_question

    job = get_current_job()
    assert job is not None, "answer() runs inside an RQ worker; use run_local() otherwise"
    conn = job.connection
    done = conn.get(ANSWERED.format(job.id))
    if done:
        # A retry after the answer was delivered (e.g. the worker died while
        # recording it): deliver nothing again, just finish the bookkeeping.
        result = json.loads(done)
        _record(payload, result, job.id)
        return _public(result)
    delivery = make_delivery(payload, conn, job.id)
    try:
        result = answer_question(
            payload["question"],
            history=payload.get("history"),
            doc=payload.get("doc"),
            k=payload.get("k"),
            on_delta=delivery.update,
        )
    except LLMBadRequest as e:
        # Retrying a rejected request cannot help: answer with the reason now.
        result = {
            "answer": error_text(str(e)),
            "sources": [],
            "model": None,
            "error": True,
            "messages": [],
            "timings": {},
        }
    result["message_ts"] = delivery.finish(result)
    conn.set(ANSWERED.format(job.id), json.dumps(result, ensure_ascii=False), ex=KEEP_S)
    _record(payload, result, job.id)
    return _public(result)


def _public(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("answer", "sources", "model", "timings", "error", "message_ts")
    return {k: result[k] for k in keep if k in result}


def _record(payload: dict[str, Any], result: dict[str, Any], job_id: str) -> None:
    try:
        from feedback.store import record_answer

        record_answer(job_id, payload, result)
    except Exception:  # noqa: BLE001 - an answer already delivered must not be retried for this
        log.exception("could not record answer %s", job_id)


def on_failure(job, connection, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
    """Called by RQ after every failed attempt, before it decides to retry."""
    payload = job.args[0] if job.args else {}
    delivery = make_delivery(payload, connection, job.id)
    retries_left = job.retries_left or 0
    if retries_left > 0:
        delivery.notice(f"Having trouble answering ({reason_for(value)}); retrying shortly…")
        return
    final_failure(job, connection, value)


def final_failure(job, connection, exc: BaseException | None) -> None:  # type: ignore[no-untyped-def]
    if connection.get(ANSWERED.format(job.id)):
        return
    payload = job.args[0] if job.args else {}
    text = error_text(reason_for(exc))
    result = {"answer": text, "sources": [], "model": None, "error": True}
    # NX: of two racing failure paths only one posts the error.
    if connection.set(ERROR.format(job.id), json.dumps(result), nx=True, ex=KEEP_S):
        make_delivery(payload, connection, job.id).fail(text)
