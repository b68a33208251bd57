"""How an answer looks in Slack: Block Kit blocks plus fallback text.

Used by the workers (workers/slack_delivery.py) for answers and by the bot for help text.
Slack limits respected here: 3,000 characters per section text, 50 blocks per
message; the fallback `text` is always set (notifications, screen readers and
clients that cannot render blocks show it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from specbot.contracts import AnswerResult, Hit

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
# Fallback text is shown in notifications; Slack truncates far beyond this.
FALLBACK_LIMIT = 3000
TRUNCATED = "_… (answer shortened to fit Slack's message limits)_"
RATE_HINT = "React with :+1: or :-1: to rate this answer, or reply `{prefix} …` in this thread to improve it."

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack treats &, < and > as control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def to_mrkdwn(text: str) -> str:
    """The model writes Markdown; Slack's mrkdwn spells bold, headings and links differently."""
    text = escape(text)
    text = _HEADING.sub(r"*\1*", text)
    text = _BOLD.sub(r"*\1*", text)
    return _LINK.sub(r"<\2|\1>", text)


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at paragraph, then line, then word boundaries; never cut mid-word unless a word is huge."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def where(hit: Hit) -> str:
    """`doc · § number title`; a section Word did not number shows just its title. Plain text."""
    number, title = hit.section.strip(), hit.title.strip()
    place = f"§ {number} {title}".strip() if number else title
    return f"{hit.doc or '?'} · {place}".rstrip(" ·")


def source_line(hit: Hit) -> str:
    return escape(where(hit))


def source_lines(sources: Iterable[Hit]) -> list[str]:
    seen: set[tuple[str, str, str]] = set()
    lines = []
    for h in sources:
        key = (h.doc, h.section, h.title)
        if key in seen:  # several chunks of one section are one source to the reader
            continue
        seen.add(key)
        lines.append("• " + source_line(h))
    return lines


def fallback(text: str) -> str:
    text = text.strip() or "(empty answer)"
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def asked_by(user: str | None, question: str | None) -> Block | None:
    """For /spec answers in the channel: nobody saw the question, so show it."""
    if not question:
        return None
    who = f"<@{user}>" if user else "Someone"
    q = question if len(question) <= 500 else question[:499] + "…"
    return context(f"{who} asked: {escape(q)}")


def format_answer(
    result: AnswerResult,
    *,
    question: str | None = None,
    user: str | None = None,
    correction_prefix: str = "correction:",
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for a finished answer."""
    answer = result.answer
    head: list[Block] = []
    if (b := asked_by(user, question)) is not None:
        head.append(b)
    tail: list[Block] = []
    lines = source_lines(result.sources)
    if lines:
        tail.append({"type": "divider"})
        for i, chunk in enumerate(split_text("\n".join(lines))):
            tail.append(section(("*Sources*\n" if i == 0 else "") + chunk))
    if not result.error:
        model = result.model
        hint = RATE_HINT.format(prefix=correction_prefix)
        tail.append(context((f"Answered by `{escape(model)}` · " if model else "") + hint))
    # The tail (sources, footer) may itself be long: keep at least one answer block.
    tail = tail[: MAX_BLOCKS - len(head) - 2]
    body = [section(p) for p in split_text(to_mrkdwn(answer))] or [section("_(no answer)_")]
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [section(TRUNCATED)]
    return fallback(answer), head + body + tail


def format_partial(text: str, *, question: str | None = None, user: str | None = None) -> tuple[str, list[Block]]:
    """While the model is still writing."""
    head = [b for b in [asked_by(user, question)] if b is not None]
    body = [section(p) for p in split_text(to_mrkdwn(text))][: MAX_BLOCKS - len(head) - 2]
    return fallback(text), head + body + [context(":writing_hand: writing…")]


def format_notice(text: str, *, question: str | None = None, user: str | None = None) -> tuple[str, list[Block]]:
    head = [b for b in [asked_by(user, question)] if b is not None]
    return fallback(text), head + [section(f":hourglass_flowing_sand: {escape(text)}")]


def format_error(text: str, *, question: str | None = None, user: str | None = None) -> tuple[str, list[Block]]:
    head = [b for b in [asked_by(user, question)] if b is not None]
    return fallback(text), head + [section(f":warning: {escape(text)}")]


HELP_TEXT = """*specbot answers questions about our specification documents, with the exact sections it used.*
• Mention me in a channel: `@specbot What is the operating voltage range?` — I answer in the thread.
• Mention me again inside that thread to ask a follow-up; I remember the thread.
• `/spec <question>` asks from anywhere; the answer appears in the channel.
• `/spec sources` lists the indexed documents, `/spec stats` shows the feedback totals, `/spec help` shows this.
• Rate answers with :+1: / :-1:. Reply `{prefix} <the right answer>` in the thread to correct one.
Section numbers (`8.2.2.1`) and requirement IDs in a question are looked up exactly."""


def help_text(correction_prefix: str = "correction:") -> str:
    return HELP_TEXT.format(prefix=correction_prefix)
