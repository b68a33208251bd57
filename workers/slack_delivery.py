"""Deliver an answer into Slack, exactly once per job.

All of a job's steps (placeholder, streamed text, retry notice, final answer or
error) go into one message (specbot.slack.messages.JobMessage), across retried
attempts. Streaming edits are throttled (chat.update is Tier 3) and best
effort; the final answer is not: if Slack refuses it the job fails and RQ retries it.
"""

from __future__ import annotations

import logging
import time

import redis
from slack_sdk import WebClient

from specbot.contracts import AnswerResult, QuestionJob
from specbot.i18n import t
from specbot.settings import get_settings
from specbot.slack.client import web_client
from specbot.slack.formatting import format_answer, format_error, format_notice, format_partial
from specbot.slack.messages import JobMessage
from specbot.slack.state import remember_answer

log = logging.getLogger("specbot.slack")


def source_links() -> dict[str, str]:
    """Document -> Slack file permalink for specs added from Slack; {} when the database is away
    (the answer is still delivered, its sources as plain text)."""
    try:
        from feedback.interactions import permalinks

        return permalinks()
    except Exception as e:
        log.warning("no source links (feedback database: %s)", type(e).__name__)
        return {}


class SlackDelivery:
    def __init__(
        self,
        question: QuestionJob,
        conn: redis.Redis,
        job_id: str,
        client: WebClient | None = None,
        alternative: bool = False,
    ) -> None:
        assert question.channel, "a Slack delivery needs the question's channel"
        self.s = get_settings()
        self.conn = conn
        self.job_id = job_id
        self.channel: str = question.channel
        self.thread_ts = question.thread_ts
        self.msg = JobMessage(client or web_client(self.s), conn, job_id, self.channel, self.thread_ts)
        self._last_push = 0.0
        # /spec answers land in the channel where nobody saw the question: show it.
        self._question = question.question if question.source == "command" else None
        self._user = question.user if question.source == "command" else None
        self.lang = question.lang or "en"
        # A "Try another answer": headed as answer B, and no further retry under it.
        self.alternative = alternative

    def message_ts(self) -> str | None:
        return self.msg.ts()

    # --- Delivery protocol ------------------------------------------------
    def update(self, partial: str) -> None:
        now = time.monotonic()
        first = self._last_push == 0.0
        if not first and now - self._last_push < self.s.slack_stream_interval_s:
            return
        self._last_push = now
        try:
            text, blocks = format_partial(
                partial or t("placeholder", self.lang), question=self._question, user=self._user, lang=self.lang
            )
            self.msg.put(text, blocks)
        except Exception as e:  # streaming is cosmetic; the final answer is what counts
            log.warning("streaming update failed for %s: %s", self.job_id, type(e).__name__)

    def finish(self, result: AnswerResult) -> str | None:
        links = source_links() if not self.s.spec_link_template else {}
        text, blocks = format_answer(
            result,
            correction_prefix=self.s.slack_correction_prefix,
            question=self._question,
            user=self._user,
            lang=self.lang,
            job_id=self.job_id,
            alternative=self.alternative,
            link_template=self.s.spec_link_template,
            permalinks=links,
            heading=t("answer_b", self.lang) if self.alternative else None,
        )
        ts = self.msg.put(text, blocks)
        try:
            remember_answer(self.conn, self.job_id, self.channel, ts, self.thread_ts)
        except redis.RedisError:
            log.exception("could not remember answer %s (reactions fall back to the bot user check)", ts)
        return ts

    def notice(self, text: str) -> None:
        try:
            fallback, blocks = format_notice(text, question=self._question, user=self._user, lang=self.lang)
            self.msg.put(fallback, blocks)
        except Exception:  # a notice must not mask the job's real failure
            log.exception("could not post retry notice for %s", self.job_id)

    def fail(self, text: str) -> None:
        fallback, blocks = format_error(text, question=self._question, user=self._user, lang=self.lang)
        self.msg.put(fallback, blocks)
