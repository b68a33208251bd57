"""The one Slack message that carries a job's answer: posted once, then edited.

Its ts is stored in Redis under the job ID the moment it is posted, so every
later step, and every retried attempt of the same job, edits that one message
(chat.update) instead of posting another.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from specbot.slack.formatting import Block
from specbot.slack.state import ANSWER_MSG, KEEP_S

log = logging.getLogger("specbot.slack")
# Slack's answers to chat.update for a message that can no longer be edited: post anew.
GONE = ("message_not_found", "cant_update_message")


class JobMessage:
    def __init__(self, client: WebClient, conn: redis.Redis, job_id: str, channel: str, thread_ts: str | None) -> None:
        self.client = client
        self.conn = conn
        self.job_id = job_id
        self.channel = channel
        self.thread_ts = thread_ts

    def _key(self) -> str:
        return ANSWER_MSG.format(job_id=self.job_id)

    def ts(self) -> str | None:
        v = self.conn.get(self._key())
        return v.decode() if isinstance(v, bytes) else v

    def post(self, text: str, blocks: list[Block]) -> str:
        kwargs: dict[str, Any] = {"channel": self.channel, "text": text, "blocks": blocks, "unfurl_links": False}
        if self.thread_ts:
            kwargs["thread_ts"] = self.thread_ts
        resp = self.client.chat_postMessage(**kwargs)
        ts = str(resp["ts"])
        self.conn.set(self._key(), ts, ex=KEEP_S)
        return ts

    def put(self, text: str, blocks: list[Block]) -> str:
        """Edit this job's message, or post it if there is none yet (or it was deleted)."""
        ts = self.ts()
        if ts:
            try:
                self.client.chat_update(channel=self.channel, ts=ts, text=text, blocks=blocks)
                return ts
            except SlackApiError as e:
                if e.response.get("error") not in GONE:
                    raise
                log.warning("answer message %s is gone (%s); posting a new one", ts, e.response.get("error"))
        return self.post(text, blocks)
