"""The Slack Web API client, and calls that log a failure instead of raising.

Listeners and deliveries must survive a Web API failure: a failed reaction or
notice is logged (with Slack's error code, never the token) and work goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from specbot.settings import Settings, get_settings

log = logging.getLogger("specbot.slack")


def web_client(settings: Settings | None = None) -> WebClient:
    s = settings or get_settings()
    token = (s.slack_bot_token.get_secret_value() if s.slack_bot_token else "") or None
    base = s.slack_api_url if s.slack_api_url.endswith("/") else s.slack_api_url + "/"
    client = WebClient(token=token, base_url=base, timeout=15)
    # Slack answers 429 with Retry-After; waiting is the right response.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def api_error(e: Exception) -> str:
    """Slack's error code (`channel_not_found`, …) or the exception's type: safe to log."""
    if isinstance(e, SlackApiError):
        return str(e.response.get("error"))
    return type(e).__name__


def say(client: WebClient, **kwargs: Any) -> None:
    """chat.postMessage that never raises."""
    try:
        client.chat_postMessage(**kwargs)
    except Exception as e:
        log.error("chat.postMessage to %s failed: %s", kwargs.get("channel"), api_error(e))


def whisper(client: WebClient, **kwargs: Any) -> None:
    """chat.postEphemeral (only `user` sees it) that never raises."""
    try:
        client.chat_postEphemeral(**kwargs)
    except Exception as e:
        log.error("chat.postEphemeral to %s failed: %s", kwargs.get("channel"), api_error(e))


def react(client: WebClient, channel: str, ts: str, name: str) -> None:
    """reactions.add that never raises; a reaction that is already there is fine."""
    try:
        client.reactions_add(channel=channel, timestamp=ts, name=name)
    except SlackApiError as e:
        if e.response.get("error") != "already_reacted":  # a retried event reacts twice: fine
            log.warning("reactions.add %s failed: %s", name, api_error(e))
    except Exception as e:
        log.warning("reactions.add %s failed: %s", name, api_error(e))
