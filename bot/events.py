"""Reading Slack event payloads: who, where, when, and what was said."""

from __future__ import annotations

import re
import time
from typing import Any

_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str | None) -> str:
    return _MENTION.sub(" ", text or "").strip()


def team_of(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def from_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("subtype") == "bot_message" or event.get("bot_profile"))


def event_key(body: dict[str, Any]) -> str:
    """Slack's event_id, or (never seen in practice) a key derived from the event itself."""
    if body.get("event_id"):
        return str(body["event_id"])
    ev = body.get("event") or {}
    where = ev.get("channel") or (ev.get("item") or {}).get("channel")
    return ":".join(str(x) for x in (ev.get("type"), where, ev.get("ts") or ev.get("event_ts"), ev.get("user"),
                                     ev.get("reaction")))  # fmt: skip


def asked_at(body: dict[str, Any], event: dict[str, Any]) -> float:
    """When the user asked, in epoch seconds: the event's own time (`event_ts`, with
    microseconds, = the message ts for mentions and DMs), else the envelope's
    `event_time`, else now. A retried event keeps its first time."""
    for value in (event.get("event_ts"), event.get("ts"), body.get("event_time")):
        try:
            if value:
                return float(value)
        except (TypeError, ValueError):
            continue
    return time.time()
