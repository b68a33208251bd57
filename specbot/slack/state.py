"""Redis keys the bot and the workers' Slack delivery share.

The worker writes which Slack messages are answers; the bot reads them to tell
a reaction on an answer from a reaction on anything else, and to find the
answer a `correction:` reply refers to.
"""

from __future__ import annotations

import redis

# job id -> ts of the message that carries this job's answer (placeholder, stream, final)
ANSWER_MSG = "specbot:slack:msg:{job_id}"
# channel + message ts -> job id, for every delivered answer
ANSWER_TS = "specbot:slack:answer:{channel}:{ts}"
# channel + thread ts -> ts of the latest answer in that thread
THREAD_ANSWER = "specbot:slack:thread:{channel}:{thread_ts}"
# Long enough for late reactions and corrections; the feedback DB keeps the rest.
KEEP_S = 90 * 24 * 3600


def remember_answer(conn: redis.Redis, job_id: str, channel: str, ts: str, thread_ts: str | None) -> None:
    pipe = conn.pipeline(transaction=False)
    pipe.set(ANSWER_TS.format(channel=channel, ts=ts), job_id, ex=KEEP_S)
    pipe.set(THREAD_ANSWER.format(channel=channel, thread_ts=thread_ts or ts), ts, ex=KEEP_S)
    pipe.execute()


def is_answer(conn: redis.Redis, channel: str, ts: str) -> bool:
    return bool(conn.exists(ANSWER_TS.format(channel=channel, ts=ts)))


def latest_answer_in_thread(conn: redis.Redis, channel: str, thread_ts: str) -> str | None:
    if is_answer(conn, channel, thread_ts):  # a /spec answer in the channel is itself the thread parent
        return thread_ts
    v = conn.get(THREAD_ANSWER.format(channel=channel, thread_ts=thread_ts))
    return v.decode() if isinstance(v, bytes) else v
