"""Structured JSON logs for bot and worker, with a question ID and no secrets.

One JSON object per line on stderr, so `docker logs`, Loki or CloudWatch can
filter on fields. The `question_id` is the RQ job ID (`ans-…`): the bot knows it
when it enqueues, the worker when it dequeues, so grepping one ID shows a
question's whole path. It is carried in a context variable; RQ forks the work
horse from the process that set it, so the horse inherits it.

Secrets are removed from every line (message, arguments, extra fields and
tracebacks): Slack tokens by shape (xoxb-/xoxp-/xapp-/…), `Bearer …` headers,
passwords in URLs, and the literal values of the configured secrets.

Raw Slack user IDs are personal data and never logged: our own lines leave them
out, and as a second line of defence anything shaped like one (`U…`/`W…`, with a
digit) is replaced by `[USER]`, e.g. in a library's debug dump of an event. RQ's
failed-job lines carry the job's arguments (a payload naming the user, a question,
a whole prompt) as extra fields: those fields are dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"
USER_REDACTED = "[USER]"
# Slack user IDs: U (or W, Enterprise Grid) and 6-12 upper-case letters and digits, at
# least one a digit. Channel (C/D/G), team (T) and job IDs (lower case) do not match.
_USER_ID = re.compile(r"\b[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{6,12}\b")
# Extra fields RQ puts on its failed-job lines: the job's payload.
_PAYLOAD_FIELDS = ("arguments", "kwargs")
_question_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("specbot_question_id", default=None)
_role = "specbot"

# Slack token shapes: bot, user, app-level, workspace/refresh/config tokens.
NOISY = ("httpx", "httpcore", "alembic", "urllib3", "slack_sdk.web.base_client", "weaviate")
_PATTERNS = [
    re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]+"),
    re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]+"),
    # user:password@ in URLs (Redis, PostgreSQL, Weaviate).
    re.compile(r"(?<=://)[^/\s:@]*:[^/\s@]+(?=@)"),
]
# Settings whose values are secrets; each value is removed verbatim wherever it appears.
SECRET_SETTINGS = (
    "slack_bot_token",
    "slack_app_token",
    "slack_signing_secret",
    "llm_api_key",
    "weaviate_api_key",
    "user_id_salt",
)
SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "REDIS_PASSWORD", "POSTGRES_PASSWORD")
# Placeholders that are not secrets and would otherwise blank out ordinary words.
_NOT_SECRET = {"", "EMPTY", "specbot", "change-me"}


def set_question_id(qid: str | None) -> contextvars.Token:
    return _question_id.set(qid)


def get_question_id() -> str | None:
    return _question_id.get()


@contextlib.contextmanager
def question(qid: str | None) -> Iterator[None]:
    """`with logs.question(job_id): ...` tags every line inside with the ID."""
    token = _question_id.set(qid)
    try:
        yield
    finally:
        _question_id.reset(token)


def configured_secrets() -> list[str]:
    """Values of the secret settings and secret environment variables."""
    values: list[str] = []
    try:
        from specbot.settings import get_settings

        s = get_settings()
        for name in SECRET_SETTINGS:
            v = getattr(s, name)
            if v is not None:
                values.append(v.get_secret_value() if hasattr(v, "get_secret_value") else str(v))
    except Exception:  # invalid settings must not break logging itself
        pass
    values += [os.environ.get(k, "") for k in SECRET_ENV]
    # Short values (e.g. "x") would blank out ordinary text; real secrets are long.
    return sorted({v for v in values if v not in _NOT_SECRET and len(v) >= 6}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """Drop credentials from a URL (Redis, PostgreSQL, Weaviate) before it reaches a log or an error line."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = list(secrets)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        for p in _PATTERNS:
            text = p.sub(REDACTED, text)
        return _USER_ID.sub(USER_REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites the record so that no handler can print a secret.

    Attached to handlers (not loggers) so that it also covers records from
    libraries (slack_bolt, httpx, rq) that propagate to the root logger.
    """

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self.redact = Redactor(configured_secrets() if secrets is None else secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string still gets logged, redacted
            msg = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(msg), None
        for key in _PAYLOAD_FIELDS:
            record.__dict__.pop(key, None)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
            record.exc_info = None  # formatted and redacted above; do not format again
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


_JSONABLE = (str, int, float, bool, type(None), list, dict)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, role, pid, question_id, msg, extras."""

    def __init__(self, role: str = "specbot", redact: Redactor | None = None) -> None:
        super().__init__()
        self.role = role
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "role": self.role,
            "pid": record.process,
            "question_id": getattr(record, "question_id", None) or _question_id.get(),
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = (
                    value if isinstance(value, str | int | float | bool | type(None) | list | dict) else repr(value)
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        line = json.dumps(out, ensure_ascii=False, default=str)
        # Second line of defence: a secret that reached a field some other way.
        return self.redact(line) if self.redact else line


def setup(role: str, level: str | int | None = None, fmt: str | None = None, stream: Any = None) -> logging.Handler:
    """Replace the root handlers with one redacting handler (JSON unless LOG_FORMAT=text).

    Called once at the start of `specbot bot` / `specbot worker`.
    """
    global _role
    _role = role
    try:
        from specbot.settings import get_settings

        s = get_settings()
        level, fmt = level or s.log_level, fmt or s.log_format
    except Exception:  # invalid settings are reported elsewhere; log anyway
        pass
    level = level or "INFO"
    fmt = (fmt or "json").lower()
    handler = logging.StreamHandler(stream or sys.stderr)
    flt = RedactingFilter()
    handler.addFilter(flt)
    if fmt == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(role, flt.redact))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # One line per HTTP request or plugin load drowns the question lines; DEBUG shows them.
    if root.level > logging.DEBUG:
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.WARNING)
    # RQ installs its own text handler on "rq.worker"; route it through ours instead.
    for name in ("rq.worker", "rq"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True
    return handler
