"""What crosses the queue: one typed definition per message, plus the queue and job names.

Every role may import this module (it imports no role). Payloads travel as JSON
(RQ's JSONSerializer on every queue and worker): `to_wire()` is what a producer
enqueues, `from_wire()` is what a consumer reads.

Versions. Each payload carries `version`. Version 1 is the untyped dict the
roles exchanged before this module existed (no `version` key). A consumer
upgrades an older payload step by step (`_UPGRADES`) and refuses a newer one
with `ContractVersionError`: during a rolling deploy an old worker thus fails
the attempt, and RQ retries it later, when a new worker may take it. Adding,
removing or retyping a field means a new version and an upgrade function.

Path of one question (README, "Architecture"): Slack -> bot builds a
`QuestionJob` -> `enqueue_question` (queue `answers`, job `workers.jobs.answer`)
-> worker returns an `AnswerResult` and records it (straight to the database, or,
when that is down, as an `AnswerRecord` on queue `feedback`) -> reactions become
`VoteEvent`s and thread replies `CorrectionEvent`s on queue `feedback` ->
`feedback.jobs` records them.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Self

import redis
from pydantic import BaseModel, ConfigDict
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from specbot.settings import Settings, get_settings

# --- queues and jobs -------------------------------------------------------------
ANSWERS_QUEUE = "answers"
# Votes and corrections: retried, so a database outage delays them but loses none.
FEEDBACK_QUEUE = "feedback"
# Every queue, worker and job fetch uses this: what is on the wire is plain JSON
# (readable by any client, and no unpickling of data that came from Redis).
SERIALIZER = JSONSerializer

# Specs added from Slack: heavy (download, parse, embed), so on a queue of their own.
INDEX_QUEUE = "index"

ANSWER_JOB = "workers.jobs.answer"
# "Try another answer": a second answer to an answered question (queue `answers`).
ALTERNATIVE_JOB = "workers.jobs.answer_again"
INDEX_JOB = "workers.jobs.index_slack_file"
BUTTON_VOTE_JOB = "feedback.jobs.record_button_vote"
CHOICE_JOB = "feedback.jobs.record_choice"
ANSWER_FAILURE_CALLBACK = "workers.jobs.on_failure"
VOTE_JOB = "feedback.jobs.record_vote"
CORRECTION_JOB = "feedback.jobs.record_correction"
RECORD_JOB = "feedback.jobs.record_answer"

ANSWER_KEEP_S = 24 * 3600
FEEDBACK_KEEP_S = 7 * 24 * 3600
FEEDBACK_FAILED_KEEP_S = 30 * 24 * 3600


class ContractVersionError(ValueError):
    """A payload written by newer code than this process understands."""


class QueueFull(Exception):
    """Backpressure: QUEUE_MAX_LENGTH questions are already waiting; this one was not queued."""

    def __init__(self, ahead: int) -> None:
        self.ahead = ahead
        super().__init__(self.user_text())

    def user_text(self) -> str:
        """The reply the asker gets (Slack and `specbot ask`); the one place this text lives."""
        n = self.ahead
        return (
            f"I'm busy right now: {n} question{'s' if n != 1 else ''} {'are' if n != 1 else 'is'} ahead of you. "
            "Please ask again in a few minutes."
        )


# --- the messages ----------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contract(_Frozen):
    """Base of every versioned payload."""

    CURRENT: ClassVar[int]
    # version -> function turning a payload of that version into the next one.
    UPGRADES: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | Self) -> Self:
        """Read a payload from the queue: upgrade an old version, refuse a newer one."""
        if isinstance(data, cls):
            return data
        assert isinstance(data, Mapping)
        d = dict(data)
        v = d.get("version", 1)
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{cls.__name__}: bad version {v!r}")
        if v > cls.CURRENT:
            raise ContractVersionError(
                f"{cls.__name__} version {v} is newer than this process understands ({cls.CURRENT}); "
                "an up-to-date process will take it"
            )
        while v < cls.CURRENT:
            d = cls.UPGRADES[v](d)
            v += 1
            d["version"] = v
        return cls.model_validate(d)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Turn(_Frozen):
    """One earlier message of a Slack thread (follow-up context), as a chat message."""

    role: Literal["user", "assistant", "system"]
    content: str


QuestionSource = Literal["mention", "dm", "command", "cli", "shortcut"]
# The language of the bot's own words (i18n.py); the answer itself follows the question.
Lang = Literal["en", "ko"]


class QuestionJob(Contract):
    """A question to answer (queue `answers`, job `workers.jobs.answer`).

    `asked_at` is when the user asked, in epoch seconds: Slack's event time for
    mentions and DMs, the moment the bot received a `/spec` command, the CLI's
    clock for `specbot ask`. End-to-end latency is measured from it.
    """

    CURRENT: ClassVar[int] = 3
    version: Literal[3] = 3
    question: str
    source: QuestionSource = "cli"
    asked_at: float | None = None
    user: str | None = None
    team: str | None = None
    channel: str | None = None
    # The question's own message and the thread the answer goes to (None: /spec and CLI).
    ts: str | None = None
    thread_ts: str | None = None
    history: tuple[Turn, ...] = ()
    doc: str | None = None
    k: int | None = None
    # `/spec` only: the command's response_url (Slack: valid 30 minutes, 5 uses). The
    # worker answers through it when the bot cannot post in the channel (a private
    # channel or a DM the bot is not in).
    response_url: str | None = None
    # The bot's words (buttons, footer, notices) in the asker's language: Korean for a
    # Korean question or a ko-KR Slack locale. None: not known yet (the worker asks
    # Slack for the locale, cached), which means English for a user without one.
    lang: Lang | None = None

    @property
    def to_slack(self) -> bool:
        return bool(self.channel)


def _question_v1(d: dict[str, Any]) -> dict[str, Any]:
    # v1: the bot's and the CLI's dicts; `source` was missing for the CLI, `history` could be null.
    d = {k: v for k, v in d.items() if k in QuestionJob.model_fields}
    d["history"] = d.get("history") or []
    d["source"] = d.get("source") or "cli"
    return d


def _question_v2(d: dict[str, Any]) -> dict[str, Any]:
    # v3 added `response_url` and `lang` (default None) and the "shortcut" source.
    return d


QuestionJob.UPGRADES = {1: _question_v1, 2: _question_v2}


class Hit(_Frozen):
    """A retrieved section, in the JSON shape of `specbot search --json`."""

    doc: str
    section: str = ""
    title: str = ""
    text: str = ""
    score: float | None = None


class ChatMessage(_Frozen):
    role: str
    content: str


class Timings(_Frozen):
    retrieval_s: float | None = None
    generation_s: float | None = None
    first_token_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class AnswerResult(Contract):
    """What answering a QuestionJob produced.

    `public()` is the job's return value and the CLI's `ask --json` output; the
    prompt (`messages`) and all context blocks (`hits`) go to the feedback
    database only (they are the training data).
    """

    CURRENT: ClassVar[int] = 2
    version: Literal[2] = 2
    answer: str
    sources: tuple[Hit, ...] = ()
    model: str | None = None
    timings: Timings = Timings()
    error: bool = False
    # "" for a generated answer; a labelled quote of the top section stood in for it:
    # "model_down" (the model could not be reached) or "guard" (its answer was not shown).
    fallback: Literal["", "model_down", "guard"] = ""
    # The Slack message carrying the answer (None outside Slack).
    message_ts: str | None = None
    hits: tuple[Hit, ...] = ()
    messages: tuple[ChatMessage, ...] = ()

    PUBLIC: ClassVar[tuple[str, ...]] = (
        "version",
        "answer",
        "sources",
        "model",
        "timings",
        "error",
        "fallback",
        "message_ts",
    )

    @classmethod
    def failure(cls, text: str) -> AnswerResult:
        return cls(answer=text, error=True)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(self.PUBLIC))


def _answer_v1(d: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in d.items() if k in AnswerResult.model_fields}
    d["timings"] = {k: v for k, v in (d.get("timings") or {}).items() if k in Timings.model_fields}
    d["error"] = bool(d.get("error"))
    return d


AnswerResult.UPGRADES = {1: _answer_v1}


_SKIN_TONE = re.compile(r"::skin-tone-\d+$")


def base_emoji(reaction: str) -> str:
    """`+1::skin-tone-3` and `:+1:` are both `+1`: a skin tone does not change a vote."""
    return _SKIN_TONE.sub("", reaction.strip()).strip(":")


class VoteEvent(Contract):
    """A reaction added to or removed from an answer (queue `feedback`).

    `reaction` is the emoji without skin tone; `value` is its vote (FEEDBACK_EMOJI),
    decided once, by the bot, or None for other emoji (stored raw).
    """

    CURRENT: ClassVar[int] = 2
    version: Literal[2] = 2
    team: str
    channel: str
    message_ts: str
    user: str
    reaction: str
    added: bool
    value: int | None
    event_id: str | None = None
    event_ts: str | None = None


def vote_value(reaction: str, settings: Settings | None = None) -> int | None:
    """The vote an emoji stands for (FEEDBACK_EMOJI), None for any other emoji."""
    return (settings or get_settings()).emoji_values.get(base_emoji(reaction))


def _vote_v1(d: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in d.items() if k in VoteEvent.model_fields}
    d["reaction"] = base_emoji(str(d.get("reaction") or ""))
    if "value" not in d:  # the first bots did not send it
        d["value"] = vote_value(d["reaction"])
    d["team"] = d.get("team") or ""
    d.setdefault("added", True)
    return d


VoteEvent.UPGRADES = {1: _vote_v1}


class CorrectionEvent(Contract):
    """A `correction: …` reply in an answer's thread: a better answer written by a person."""

    CURRENT: ClassVar[int] = 2
    version: Literal[2] = 2
    team: str
    channel: str
    thread_ts: str | None = None
    # The answer corrected; None: the latest answer in the thread.
    answer_ts: str | None = None
    user: str
    text: str
    event_id: str | None = None
    # The reply's own message.
    ts: str | None = None


def _correction_v1(d: dict[str, Any]) -> dict[str, Any]:
    d = {k: v for k, v in d.items() if k in CorrectionEvent.model_fields}
    d["team"] = d.get("team") or ""
    return d


CorrectionEvent.UPGRADES = {1: _correction_v1}


class AlternativeJob(Contract):
    """ "Try another answer" under an answer (queue `answers`, job `workers.jobs.answer_again`):
    answer the same question again from the same prompt, with other sampling or the other
    served model, then ask "Which is better?"."""

    CURRENT: ClassVar[int] = 1
    version: Literal[1] = 1
    answer_job_id: str
    team: str
    channel: str
    thread_ts: str | None = None
    # Who pressed the button.
    user: str
    lang: Lang | None = None
    asked_at: float | None = None


class ButtonVote(Contract):
    """👍 (+1) or 👎 (-1) pressed under an answer (queue `feedback`). The same vote records
    as reactions; pressing the same button again retracts. `blocks` are the message's
    blocks as pressed, so the job can show the new counts on them."""

    CURRENT: ClassVar[int] = 1
    version: Literal[1] = 1
    team: str
    channel: str
    message_ts: str
    answer_job_id: str
    user: str
    value: Literal[1, -1]
    action_ts: str
    lang: Lang | None = None
    alternative: bool = False
    blocks: tuple[dict[str, Any], ...] = ()

    @property
    def event_id(self) -> str:
        """One press: the same action_ts delivered twice is the same press."""
        key = f"{self.channel}:{self.message_ts}:{self.user}:{self.action_ts}"
        return "btn:" + hashlib.sha1(key.encode()).hexdigest()[:32]


class ChoiceEvent(Contract):
    """A, B or Neither pressed under "Which is better?" (queue `feedback`); the bot has
    checked that the presser is the asker or a reviewer (`role`)."""

    CURRENT: ClassVar[int] = 1
    version: Literal[1] = 1
    team: str
    channel: str
    # The "Which is better?" message, updated with the choice once it is recorded.
    message_ts: str
    a_job: str
    b_job: str
    choice: Literal["a", "b", "neither"]
    user: str
    role: Literal["asker", "reviewer"]
    action_ts: str
    lang: Lang | None = None


class IndexJob(Contract):
    """A .docx shared in Slack by someone in SLACK_INDEXERS (queue `index`): download it
    with the bot token, index it, record who added it, reply in the thread with the report."""

    CURRENT: ClassVar[int] = 1
    version: Literal[1] = 1
    file_id: str
    user: str
    team: str
    channel: str
    # Where the report goes (the file's message, or the thread it was shared in).
    thread_ts: str | None = None
    lang: Lang | None = None


class AnswerRecord(Contract):
    """An answer to write to the feedback database (queue `feedback`, job `feedback.jobs.record_answer`).

    Queued by the worker when the database was down as it answered, so the record
    is delayed, not lost. `question` and `result` are the QuestionJob and
    AnswerResult in their own wire form (each keeps its own version).
    """

    CURRENT: ClassVar[int] = 1
    version: Literal[1] = 1
    job_id: str
    question: dict[str, Any]
    result: dict[str, Any]

    @classmethod
    def of(cls, job_id: str, question: QuestionJob, result: AnswerResult) -> AnswerRecord:
        return cls(job_id=job_id, question=question.to_wire(), result=result.to_wire())


# --- enqueueing ------------------------------------------------------------------
def answers_queue(conn: redis.Redis, settings: Settings | None = None) -> Queue:
    s = settings or get_settings()
    return Queue(ANSWERS_QUEUE, connection=conn, default_timeout=s.job_timeout_s, serializer=SERIALIZER)


def feedback_queue(conn: redis.Redis) -> Queue:
    return Queue(FEEDBACK_QUEUE, connection=conn, serializer=SERIALIZER)


def index_queue(conn: redis.Redis, settings: Settings | None = None) -> Queue:
    s = settings or get_settings()
    return Queue(INDEX_QUEUE, connection=conn, default_timeout=max(s.job_timeout_s, 900), serializer=SERIALIZER)


def fetch_job(conn: redis.Redis, job_id: str) -> Job:
    return Job.fetch(job_id, connection=conn, serializer=SERIALIZER)


def job_id_for(team: str, channel: str, ts: str) -> str:
    """Slack questions map to one job per message, so a retried event is the same job."""
    return "ans-" + hashlib.sha1(f"{team}:{channel}:{ts}".encode()).hexdigest()[:20]


def new_question_id() -> str:
    return "ans-" + uuid.uuid4().hex[:20]


def enqueue_question(
    conn: redis.Redis, question: QuestionJob, job_id: str | None = None, settings: Settings | None = None
) -> Job:
    """Queue one question. A job with the same ID that still exists is returned instead.

    `unique=True` (RQ >= 3) checks and saves the job in one Lua script, so two bot
    threads handling a retried Slack event cannot both queue it. The job's hash
    lives for `result_ttl`/`failure_ttl` after it ends (24 h), which is the window
    in which a duplicate is recognised, as Slack retries within about an hour.

    Backpressure: with QUEUE_MAX_LENGTH questions already waiting, a new question
    raises QueueFull (a replay of a queued one is still returned, not refused).
    """
    s = settings or get_settings()
    jid = job_id or new_question_id()
    q = answers_queue(conn, s)
    if s.queue_max_length > 0:
        ahead = q.count
        if ahead >= s.queue_max_length and not (job_id and Job.exists(jid, connection=conn)):
            raise QueueFull(ahead)
    try:
        return q.enqueue(
            ANSWER_JOB,
            question.to_wire(),
            job_id=jid,
            job_timeout=s.job_timeout_s,
            description=f"{ANSWER_JOB}({jid})",  # not the payload: RQ logs this, and it names the asker
            result_ttl=ANSWER_KEEP_S,
            failure_ttl=ANSWER_KEEP_S,
            # RQ refuses Retry(max=0); no retries means no Retry object.
            retry=Retry(max=s.job_retries, interval=s.retry_intervals or [0]) if s.job_retries > 0 else None,
            on_failure=Callback(ANSWER_FAILURE_CALLBACK),
            unique=True,
        )
    except DuplicateJobError:
        return fetch_job(conn, jid)


def _feedback_job_id(prefix: str, key: str) -> str:
    return f"{prefix}-" + hashlib.sha1(key.encode()).hexdigest()[:24]


def _enqueue_feedback(conn: redis.Redis, func: str, payload: dict[str, Any], job_id: str) -> Job | None:
    schedule = get_settings().feedback_retry_schedule
    try:
        return feedback_queue(conn).enqueue(
            func,
            payload,
            job_id=job_id,
            # Long enough to outlast a database outage (FEEDBACK_RETRIES); a vote that
            # overtook its answer's record waits on the same schedule.
            retry=Retry(max=len(schedule), interval=schedule) if schedule else None,
            # RQ logs a job's description, which is its call with the payload (user IDs).
            description=f"{func}({job_id})",
            result_ttl=FEEDBACK_KEEP_S,
            failure_ttl=FEEDBACK_FAILED_KEEP_S,
            # A replayed event maps to the same job ID: keep the first job, queue nothing.
            unique=True,
        )
    except DuplicateJobError:
        return None


def enqueue_vote(conn: redis.Redis, vote: VoteEvent) -> Job | None:
    """None when this event was queued before."""
    key = vote.event_id or f"{vote.user}:{vote.reaction}:{vote.event_ts}"
    return _enqueue_feedback(conn, VOTE_JOB, vote.to_wire(), _feedback_job_id("vote", key))


def enqueue_correction(conn: redis.Redis, corr: CorrectionEvent) -> Job | None:
    """Keyed by the reply message, not the event: one reply can arrive both as a
    `message` and an `app_mention` event (different event IDs) and is one correction."""
    # A correction from the modal has no message of its own: its view submission is the key.
    key = f"{corr.team}:{corr.channel}:{corr.ts or corr.event_id}"
    return _enqueue_feedback(conn, CORRECTION_JOB, corr.to_wire(), _feedback_job_id("corr", key))


def enqueue_button_vote(conn: redis.Redis, vote: ButtonVote) -> Job | None:
    """None when this press was queued before (a double delivery of the same action_ts)."""
    return _enqueue_feedback(conn, BUTTON_VOTE_JOB, vote.to_wire(), _feedback_job_id("bvote", vote.event_id))


def enqueue_choice(conn: redis.Redis, choice: ChoiceEvent) -> Job | None:
    key = f"{choice.channel}:{choice.message_ts}:{choice.user}:{choice.action_ts}"
    return _enqueue_feedback(conn, CHOICE_JOB, choice.to_wire(), _feedback_job_id("choice", key))


def alternative_job_id(answer_job_id: str) -> str:
    """One second answer per answer: a second press finds the first job."""
    return "alt-" + hashlib.sha1(answer_job_id.encode()).hexdigest()[:20]


def enqueue_alternative(conn: redis.Redis, alt: AlternativeJob, settings: Settings | None = None) -> Job | None:
    """None when another answer to this answer was already asked for."""
    s = settings or get_settings()
    try:
        return answers_queue(conn, s).enqueue(
            ALTERNATIVE_JOB,
            alt.to_wire(),
            job_id=alternative_job_id(alt.answer_job_id),
            job_timeout=s.job_timeout_s,
            result_ttl=ANSWER_KEEP_S,
            failure_ttl=ANSWER_KEEP_S,
            retry=Retry(max=s.job_retries, interval=s.retry_intervals or [0]) if s.job_retries > 0 else None,
            unique=True,
        )
    except DuplicateJobError:
        return None


def enqueue_index(conn: redis.Redis, job: IndexJob, key: str, settings: Settings | None = None) -> Job | None:
    """`key` names the share (file + message): a redelivered event queues nothing twice."""
    try:
        return index_queue(conn, settings).enqueue(
            INDEX_JOB,
            job.to_wire(),
            job_id=_feedback_job_id("index", key),
            result_ttl=FEEDBACK_KEEP_S,
            failure_ttl=FEEDBACK_KEEP_S,
            retry=Retry(max=2, interval=[10, 60]),
            unique=True,
        )
    except DuplicateJobError:
        return None


def answer_record_job_id(answer_job_id: str) -> str:
    return _feedback_job_id("rec", answer_job_id)


def enqueue_answer_record(conn: redis.Redis, record: AnswerRecord) -> Job | None:
    """None when this answer's record is queued already (one record job per answer job)."""
    return _enqueue_feedback(conn, RECORD_JOB, record.to_wire(), answer_record_job_id(record.job_id))
