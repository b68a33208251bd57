"""Deliver an answer into Slack, exactly once per job.

The message ts is stored in Redis under the job ID the moment the first message
is posted, so every later step, and every retried attempt of the same job,
edits that one message (chat.update) instead of posting another.
Streaming edits are throttled (chat.update is Tier 3) and best effort; the
final answer is not: if Slack refuses it the job fails and RQ retries it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.formatting import format_answer, format_error, format_notice, format_partial
from bot.state import ANSWER_MSG, KEEP_S, remember_answer
from specbot.settings import Settings, get_settings

log = logging.getLogger("specbot.slack")
PLACEHOLDER = "Looking it up…"


def web_client(settings: Settings | None = None) -> WebClient:
    s = settings or get_settings()
    token = (s.slack_bot_token.get_secret_value() if s.slack_bot_token else "") or None
    base = s.slack_api_url if s.slack_api_url.endswith("/") else s.slack_api_url + "/"
    client = WebClient(token=token, base_url=base, timeout=15)
    # Slack answers 429 with Retry-After; waiting is the right response.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


class SlackDelivery:
    def __init__(
        self, payload: dict[str, Any], conn: redis.Redis, job_id: str, client: WebClient | None = None
    ) -> None:
        self.s = get_settings()
        self.payload = payload
        self.conn = conn
        self.job_id = job_id
        self.channel: str = payload["channel"]
        self.thread_ts: str | None = payload.get("thread_ts")
        self.client = client or web_client(self.s)
        self._last_push = 0.0
        # /spec answers land in the channel where nobody saw the question: show it.
        self._asked = (
            {"question": payload.get("question"), "user": payload.get("user")}
            if payload.get("source") == "command"
            else {}
        )

    # --- message bookkeeping ----------------------------------------------
    def _key(self) -> str:
        return ANSWER_MSG.format(job_id=self.job_id)

    def message_ts(self) -> str | None:
        v = self.conn.get(self._key())
        return v.decode() if isinstance(v, bytes) else v

    def _post(self, text: str, blocks: list[dict[str, Any]]) -> str:
        kwargs: dict[str, Any] = {"channel": self.channel, "text": text, "blocks": blocks, "unfurl_links": False}
        if self.thread_ts:
            kwargs["thread_ts"] = self.thread_ts
        resp = self.client.chat_postMessage(**kwargs)
        ts = str(resp["ts"])
        self.conn.set(self._key(), ts, ex=KEEP_S)
        return ts

    def _put(self, text: str, blocks: list[dict[str, Any]]) -> str:
        """Edit this job's message, or post it if there is none yet (or it was deleted)."""
        ts = self.message_ts()
        if ts:
            try:
                self.client.chat_update(channel=self.channel, ts=ts, text=text, blocks=blocks)
                return ts
            except SlackApiError as e:
                if e.response.get("error") not in ("message_not_found", "cant_update_message"):
                    raise
                log.warning("answer message %s is gone (%s); posting a new one", ts, e.response.get("error"))
        return self._post(text, blocks)

    # --- Delivery protocol ------------------------------------------------
    def update(self, partial: str) -> None:
        now = time.monotonic()
        first = self._last_push == 0.0
        if not first and now - self._last_push < self.s.slack_stream_interval_s:
            return
        self._last_push = now
        try:
            text, blocks = format_partial(partial or PLACEHOLDER, **self._asked)
            self._put(text, blocks)
        except Exception as e:  # noqa: BLE001 - streaming is cosmetic; the final answer is what counts
            log.warning("streaming update failed for %s: %s", self.job_id, type(e).__name__)

    def finish(self, result: dict[str, Any]) -> str | None:
        text, blocks = format_answer(result, correction_prefix=self.s.slack_correction_prefix, **self._asked)
        ts = self._put(text, blocks)
        try:
            remember_answer(self.conn, self.job_id, self.channel, ts, self.thread_ts)
        except redis.RedisError:
            log.exception("could not remember answer %s (reactions fall back to the bot user check)", ts)
        return ts

    def notice(self, text: str) -> None:
        try:
            t, blocks = format_notice(text, **self._asked)
            self._put(t, blocks)
        except Exception:  # noqa: BLE001 - a notice must not mask the job's real failure
            log.exception("could not post retry notice for %s", self.job_id)

    def fail(self, text: str) -> None:
        t, blocks = format_error(text, **self._asked)
        self._put(t, blocks)
