"""Per-user rate limit on questions: a sliding window in a Redis sorted set."""

from __future__ import annotations

import time
import uuid

import redis

KEY = "specbot:rate:{team}:{user}"


class RateLimiter:
    def __init__(self, limit: int, window_s: int) -> None:
        self.limit = limit
        self.window_s = window_s

    def hit(self, conn: redis.Redis, team: str, user: str) -> float:
        """Count one question. Returns 0 when allowed, else seconds until the next one is.

        A refused question is not counted, so waiting always helps. Raises
        redis.RedisError when Redis is down (the caller tells the user).
        """
        if self.limit <= 0:
            return 0.0
        key = KEY.format(team=team, user=user)
        now = time.time()
        pipe = conn.pipeline()
        pipe.zremrangebyscore(key, 0, now - self.window_s)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.zcard(key)
        _, oldest, count = pipe.execute()
        if count >= self.limit:
            return max(0.5, oldest[0][1] + self.window_s - now) if oldest else float(self.window_s)
        pipe = conn.pipeline()
        pipe.zadd(key, {uuid.uuid4().hex: now})
        pipe.expire(key, self.window_s + 5)
        pipe.execute()
        return 0.0


def wait_text(seconds: float) -> str:
    s = int(seconds + 0.999)
    when = f"{s} seconds" if s < 90 else f"{(s + 59) // 60} minutes"
    return f"You're asking faster than I can look things up :sweat_smile: — please try again in {when}."
