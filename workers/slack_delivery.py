"""Deliver an answer into Slack, exactly once per job.

All of a job's steps (placeholder, streamed text, retry notice, final answer or
error) go into one message (specbot.slack.messages.JobMessage), across retried
attempts. Streaming edits are throttled (chat.update is Tier 3) and best
effort; the final answer is not: if Slack refuses it the job fails and RQ retries it.

Except when Slack says the bot cannot post in that conversation at all
(`not_in_channel`, `channel_not_found`, `is_archived`: `/spec` in a private channel
or a DM the bot is not in). That is final: no retry (which would run the model
again) can change it. A `/spec` question then gets its answer through the
command's response_url, visible in the conversation like any `/spec` answer;
a question without one (never expected for mentions and DMs) is logged.
"""

from __future__ import annotations

import logging
import time

import redis
from slack_sdk import WebClient

from specbot.contracts import AnswerResult, QuestionJob
from specbot.i18n import t
from specbot.settings import get_settings
from specbot.slack.client import api_error, channel_closed, respond, web_client
from specbot.slack.formatting import Block, format_answer, format_error, format_notice, format_partial
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
        self.response_url = question.response_url
        # Set once Slack said the bot cannot post here (CHANNEL_CLOSED): Slack's error code.
        self.closed: str | None = None

    def message_ts(self) -> str | None:
        return self.msg.ts()

    def _close(self, e: Exception) -> None:
        self.closed = api_error(e)
        how = "answering through the command's response_url" if self.response_url else "no response_url"
        log.warning("cannot post in %s (%s); %s", self.channel, self.closed, how)

    def _respond(self, text: str, blocks: list[Block], *, final: bool) -> None:
        """The answer (in the conversation) or a notice (only the asker sees it) via response_url."""
        if not self.response_url:
            if final:
                log.error("answer %s not delivered: the bot cannot post in %s (%s)", self.job_id, self.channel,
                          self.closed)  # fmt: skip
            return
        payload = {"text": text, "blocks": blocks, "replace_original": False,
                   "response_type": "in_channel" if final else "ephemeral"}  # fmt: skip
        if not respond(self.response_url, self.s, **payload) and final:
            log.error("answer %s not delivered through the response_url either", self.job_id)

    # --- Delivery protocol ------------------------------------------------
    def update(self, partial: str) -> None:
        if self.closed:  # a response_url takes 5 messages: no streaming through it
            return
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
            if channel_closed(e):
                self._close(e)
                return
            log.warning("streaming update failed for %s: %s", self.job_id, type(e).__name__)

    def _put_final(self, text: str, blocks: list[Block]) -> str | None:
        """Post or edit the job's message; None when it went (or could not go) another way."""
        if not self.closed:
            try:
                return self.msg.put(text, blocks)
            except Exception as e:
                if not channel_closed(e):
                    raise  # Slack may take it on a retry
                self._close(e)
        self._respond(text, blocks, final=True)
        return None

    def finish(self, result: AnswerResult) -> str | None:
        # Only specs added from Slack have permalinks, and only SLACK_INDEXERS can add them:
        # without indexers the answer never waits on the feedback database.
        links = source_links() if self.s.indexers and not self.s.spec_link_template else {}
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
        ts = self._put_final(text, blocks)
        if ts is None:
            return None
        try:
            remember_answer(self.conn, self.job_id, self.channel, ts, self.thread_ts)
        except redis.RedisError:
            log.exception("could not remember answer %s (reactions fall back to the bot user check)", ts)
        return ts

    def notice(self, text: str) -> None:
        try:
            fallback, blocks = format_notice(text, question=self._question, user=self._user, lang=self.lang)
            if self.closed:
                self._respond(fallback, blocks, final=False)
                return
            self.msg.put(fallback, blocks)
        except Exception as e:  # a notice must not mask the job's real failure
            if channel_closed(e):
                self._close(e)
                self._respond(fallback, blocks, final=False)
                return
            log.exception("could not post retry notice for %s", self.job_id)

    def fail(self, text: str) -> None:
        fallback, blocks = format_error(text, question=self._question, user=self._user, lang=self.lang)
        self._put_final(fallback, blocks)
