"""Which language the bot's own words take for one user and one message (specbot/i18n.py).

Korean when the text is Korean or the user's Slack locale is (users.info with
include_locale, cached in Redis for SLACK_LOCALE_CACHE_S); else English.
"""

from __future__ import annotations

import redis
from slack_sdk import WebClient

from bot.deps import Deps
from specbot.contracts import Lang
from specbot.i18n import choose, is_korean
from specbot.slack.files import LOCALE_KEY, user_locale


def user_lang(deps: Deps, client: WebClient, user: str | None, text: str | None = None) -> Lang:
    """After the ack: may ask Slack (users.info) once per user and cache period."""
    if is_korean(text) or not user:
        return choose(text)
    try:
        conn: redis.Redis | None = deps.get_conn()
    except Exception:
        conn = None
    try:
        return choose(text, user_locale(client, conn, user, deps.settings.slack_locale_cache_s))
    except Exception:  # the language is a nicety: never the reason a question is lost
        return choose(text)


def known_lang(deps: Deps, user: str | None, text: str | None = None) -> Lang | None:
    """Before the ack: Korean text, or the cached locale; None when only Slack knows (no Web API call)."""
    if is_korean(text):
        return "ko"
    if not user:
        return None
    try:
        cached = deps.get_conn().get(LOCALE_KEY.format(user=user))
    except Exception:
        return None
    if cached is None:
        return None
    locale = cached.decode() if isinstance(cached, bytes) else str(cached)
    return choose(text, locale)


def quick_lang(deps: Deps, user: str | None, text: str | None = None) -> Lang:
    """Before the ack: the text, and the cached locale if there is one (no Web API call)."""
    return known_lang(deps, user, text) or choose(text)
