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

from specbot.contracts import ANSWER_KEEP_S, AlternativeJob, AnswerResult, IndexJob, QuestionJob
from specbot.i18n import t
from specbot.settings import get_settings
from workers.delivery import make_delivery
from workers.llm import LLMBadRequest, LLMTimeout, LLMUnavailable

log = logging.getLogger("specbot.worker")
# Exactly-once marker: the delivered answer's public part (no prompt, no context
# blocks: those go to the feedback database), as long as the job's own record lives.
ANSWERED = "specbot:answered:{}"
ERROR = "specbot:error:{}"
KEEP_S = ANSWER_KEEP_S


def error_text(reason: str, lang: str | None = None) -> str:
    return t("error", lang, reason=reason)


def stale_text(waited_s: float, lang: str | None = None) -> str:
    return t("stale", lang, minutes=f"{waited_s / 60:.0f}")


def reason_for(exc: BaseException | None, lang: str | None = None) -> str:
    if isinstance(exc, LLMTimeout):
        return t("reason_llm_slow", lang)
    if isinstance(exc, LLMUnavailable):
        return t("reason_llm_down", lang)
    name = type(exc).__name__ if exc else "unknown error"
    if name == "AbandonedJobError":
        return t("reason_worker_died", lang)
    if name == "JobTimeoutException":
        return t("reason_timeout", lang)
    return t("reason_internal", lang, name=name)


def retry_notice(exc: BaseException | None, job: Job, lang: str | None = None) -> str:
    """What the asker sees between attempts: what went wrong, and when the next try is."""
    try:
        wait = job.get_retry_interval()
    except Exception:  # no interval known: say "shortly"
        wait = 0
    attempt = (job.number_of_retries or 0) + 1
    when = t("retry_when", lang, wait=wait) if wait else t("retry_shortly", lang)
    progress = t("retry_progress", lang, attempt=attempt, total=attempt + (job.retries_left or 0))
    if isinstance(exc, LLMUnavailable) and not isinstance(exc, LLMTimeout):
        return t("retry_llm_down", lang, when=when, progress=progress)
    return t("retry_other", lang, reason=reason_for(exc, lang), when=when, progress=progress)


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
    conn = job.connection
    question = with_lang(QuestionJob.from_wire(payload), conn)
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
        result = AnswerResult.failure(stale_text(waited, question.lang))
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
            result = AnswerResult.failure(error_text(str(e), question.lang))
    result = result.model_copy(update={"message_ts": delivery.finish(result)})
    conn.set(ANSWERED.format(job.id), _slim(result), ex=KEEP_S)
    _record(question, result, job.id)
    return result.public()


def with_lang(question: QuestionJob, conn: redis.Redis) -> QuestionJob:
    """The language of the bot's words for this asker, when the bot could not know it before
    its ack: Korean for a Korean question or a ko-KR Slack locale (users.info, cached)."""
    if question.lang or not question.to_slack or not question.user:
        return question
    from specbot.i18n import choose
    from specbot.settings import get_settings
    from specbot.slack.client import web_client
    from specbot.slack.files import user_locale

    try:
        locale = user_locale(web_client(), conn, question.user, get_settings().slack_locale_cache_s)
    except Exception:  # the language is a nicety: never the reason an answer fails
        locale = None
    return question.model_copy(update={"lang": choose(question.question, locale)})


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
            make_delivery(question, connection, job.id).notice(retry_notice(value, job, question.lang))
        return
    final_failure(job, connection, value)


def final_failure(job: Job, connection: redis.Redis, exc: BaseException | None) -> None:
    if connection.get(ANSWERED.format(job.id)):
        return
    question = _question_of(job)
    lang = question.lang if question is not None else None
    text = error_text(reason_for(exc, lang), lang)
    # NX: of two racing failure paths only one posts the error.
    claimed = connection.set(ERROR.format(job.id), json.dumps(AnswerResult.failure(text).public()), nx=True, ex=KEEP_S)
    if claimed and question is not None:
        make_delivery(question, connection, job.id).fail(text)


# --- "Try another answer" ---------------------------------------------------------------
AB_POSTED = "specbot:ab:{}"


def answer_again(payload: dict[str, Any]) -> dict[str, Any]:
    """The second answer to an answered question, in its thread, then "Which is better?".

    Same exactly-once rules as `answer`: the delivered result is kept under the job ID
    (a retry delivers nothing twice) and the A/B message is claimed before it is posted.
    """
    from feedback.interactions import answer_info
    from feedback.store import record_answer
    from workers.answer import answer_again as generate
    from workers.slack_delivery import SlackDelivery

    job = get_current_job()
    assert job is not None, "answer_again() runs inside an RQ worker"
    alt = AlternativeJob.from_wire(payload)
    conn = job.connection
    first = answer_info(job_id=alt.answer_job_id)  # AnswerNotFound: RQ retries
    question = QuestionJob(
        question=first["question"],
        source="mention",  # posted in the first answer's thread, where the question is visible
        asked_at=alt.asked_at,
        team=alt.team,
        channel=alt.channel,
        thread_ts=alt.thread_ts or first["thread_ts"] or first["message_ts"],
        lang=alt.lang,
    )
    done = conn.get(ANSWERED.format(job.id))
    if done:
        result = AnswerResult.from_wire(json.loads(done))
    else:
        delivery = SlackDelivery(question, conn, job.id, alternative=True)
        try:
            tokens = (first.get("timings") or {}).get("completion_tokens")
            result = generate(first["question"], first["messages"], first["hits"], first["model"],
                              on_delta=delivery.update, first_tokens=tokens)  # fmt: skip
        except LLMBadRequest as e:
            result = AnswerResult.failure(error_text(str(e), alt.lang))
        result = result.model_copy(update={"message_ts": delivery.finish(result)})
        conn.set(ANSWERED.format(job.id), json.dumps(result.to_wire(), ensure_ascii=False), ex=KEEP_S)
    try:
        record_answer(job.id, question, result, alt_of_job=alt.answer_job_id)
    except Exception:
        # The database is away: the record goes the retried way (an AnswerRecord on the
        # feedback queue); an A/B choice made meanwhile waits for it (AnswerNotFound, retried).
        log.exception("could not record the second answer %s now; queued", job.id)
        _record(question, result, job.id)
    if not result.error:
        _ask_which_is_better(conn, job.id, alt, question, first["job_id"])
    return result.public()


def _ask_which_is_better(
    conn: redis.Redis, job_id: str, alt: AlternativeJob, question: QuestionJob, first_job: str
) -> None:
    from specbot.slack.client import web_client
    from specbot.slack.views import ab_message

    key = AB_POSTED.format(job_id)
    if not conn.set(key, "1", nx=True, ex=KEEP_S):
        return
    text, blocks = ab_message(first_job, job_id, None, alt.lang or "en")
    try:
        web_client().chat_postMessage(channel=alt.channel, thread_ts=question.thread_ts, text=text, blocks=blocks)
    except Exception:
        conn.delete(key)  # not posted: the retry posts it
        raise


# --- specs added from Slack ---------------------------------------------------------------
def index_slack_file(payload: dict[str, Any]) -> dict[str, Any]:
    """Queue `index`: see workers/slack_index.py."""
    from workers.slack_index import index_shared_file

    return index_shared_file(IndexJob.from_wire(payload))
