"""Cross-cutting checks as Bolt middleware, like Bolt's own IgnoringSelfEvents.

A middleware that drops a request acks it (Slack gets its 200 and does not
retry) and does not call next(), so no listener runs. Global ones run for every
request; the others are attached to listeners in bot/listeners.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, BoltContext, BoltResponse
from slack_sdk import WebClient

from bot.deps import Deps, deps_of
from bot.events import event_key, from_bot, team_of
from bot.language import quick_lang
from specbot.i18n import t
from specbot.slack.client import whisper

NOT_ENABLED = t("not_enabled")
HELP_WORDS = ("", "help", "?")

Next = Callable[[], Any]


def provide_deps(deps: Deps) -> Callable[..., Any]:
    """Global: every listener finds the process's Deps in `context["deps"]`."""

    def provide_deps(context: BoltContext, next_: Next) -> None:
        context["deps"] = deps
        next_()

    return provide_deps


def ignore_bots(body: dict[str, Any], ack: Ack, next_: Next) -> BoltResponse | None:
    """Global: no bot (ours is already skipped by Bolt) gets answers, votes or corrections."""
    event = body.get("event")
    if isinstance(event, dict) and from_bot(event):
        return ack()
    next_()
    return None


def dedupe_events(body: dict[str, Any], context: BoltContext, ack: Ack, next_: Next) -> BoltResponse | None:
    """Each Slack event is handled once, across retries, restarts and bot processes.

    The listener finds the claimed key in `context["event_key"]` to confirm or release it."""
    key = event_key(body)
    if not deps_of(context).deduper.first_time(key):
        return ack()
    context["event_key"] = key
    next_()
    return None


def require_allowed_channel(
    body: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack, next_: Next
) -> BoltResponse | None:
    """SLACK_ALLOWED_TEAMS / SLACK_ALLOWED_CHANNELS for questions; help works anywhere."""
    deps = deps_of(context)
    if "command" in body:  # /spec
        if (body.get("text") or "").strip().lower() in HELP_WORDS or deps.allowed(
            body.get("team_id"), body.get("channel_id")
        ):
            next_()
            return None
        return ack(t("not_enabled", quick_lang(deps, body.get("user_id"), body.get("text"))))
    event = body.get("event") or {}
    if deps.allowed(team_of(body, event), event.get("channel")):
        next_()
        return None
    where = {"channel": event.get("channel"), "user": event.get("user", ""), "thread_ts": event.get("thread_ts")}
    text = t("not_enabled", quick_lang(deps, event.get("user"), event.get("text")))
    deps.later(partial(whisper, client, text=text, **where))
    return ack()
