"""The Slack Web API client, and calls that log a failure instead of raising.

Listeners and deliveries must survive a Web API failure: a failed reaction or
notice is logged (with Slack's error code, never the token) and work goes on.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from specbot.settings import Settings, get_settings

log = logging.getLogger("specbot.slack")
# Slack's answers when the bot cannot post in a conversation at all: a private channel
# or a DM it is not in, a deleted or archived channel. Retrying cannot change them.
CHANNEL_CLOSED = ("not_in_channel", "channel_not_found", "is_archived")
# Where Slack's response_urls point (https://hooks.slack.com/commands/…).
RESPONSE_URL_HOSTS = ("hooks.slack.com",)


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


def channel_closed(e: Exception) -> bool:
    """The bot cannot post in this conversation, now or on a retry."""
    return isinstance(e, SlackApiError) and e.response.get("error") in CHANNEL_CLOSED


def response_url_allowed(url: str, settings: Settings | None = None) -> bool:
    """Only Slack's own response_urls (or SLACK_API_URL's host, which is where a test
    or a proxy serves Slack) are posted to: a job in Redis cannot make a worker POST
    to an arbitrary address."""
    s = settings or get_settings()
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname in RESPONSE_URL_HOSTS:
        return True
    api = urlsplit(s.slack_api_url)
    return bool(parts.hostname) and (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port)


def respond(url: str, settings: Settings | None = None, **payload: Any) -> bool:
    """POST a message to a slash command's response_url. False (logged) when Slack
    refuses it (expired after 30 minutes, used 5 times) or the URL is not Slack's;
    a network error raises, like a Web API call."""
    from slack_sdk.webhook import WebhookClient

    if not response_url_allowed(url, settings):
        log.error("response_url refused: not a Slack address (%s)", urlsplit(url).hostname)
        return False
    resp = WebhookClient(url, timeout=15).send_dict(payload)
    if resp.status_code != 200:
        log.error("response_url answered %d: %s", resp.status_code, (resp.body or "")[:200])
        return False
    return True
