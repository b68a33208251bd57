"""`/spec sources` and `/spec stats`: read-only views for the channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, text


def _when(iso: str) -> str:
    try:
        dt = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or "unknown time"
    return dt.strftime("%Y-%m-%d %H:%M") + (" UTC" if dt.utcoffset() is not None and not dt.utcoffset() else "")


def sources_text() -> str:
    from bot.formatting import escape
    from indexer.store import open_index

    docs = open_index().list_documents()
    if not docs:
        return "No documents are indexed yet. An admin adds them with `specbot index <folder>`."
    lines = [f"*{len(docs)} indexed document{'s' if len(docs) != 1 else ''}:*"]
    for d in docs:
        lines.append(f"• {escape(d.doc)} — {d.chunks} chunks, indexed {_when(d.indexed_at)}")
    return "\n".join(lines)[:3000]


def feedback_totals() -> dict[str, int]:
    """Counts from the feedback DB; tables the feedback side has not created yet count as 0."""
    from feedback.store import get_engine

    eng = get_engine()
    have = set(inspect(eng).get_table_names())
    out = {"answers": 0, "up": 0, "down": 0, "other": 0, "corrections": 0}
    with eng.connect() as db:
        if "answers" in have:
            out["answers"] = db.execute(text("SELECT COUNT(*) FROM answers")).scalar_one()
        if "votes" in have:
            rows = db.execute(
                text("SELECT COALESCE(SIGN(value), 2) AS s, COUNT(*) FROM votes WHERE removed_at IS NULL GROUP BY s")
            ).all()
            for sign, n in rows:
                key = {1: "up", -1: "down"}.get(int(sign), "other")
                out[key] += int(n)
        if "corrections" in have:
            out["corrections"] = db.execute(text("SELECT COUNT(*) FROM corrections")).scalar_one()
    return out


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def stats_text() -> str:
    t = feedback_totals()
    rated = t["up"] + t["down"]
    share = f" ({100 * t['up'] // rated}% helpful)" if rated else ""
    return (
        f"*Feedback so far:* {_n(t['answers'], 'answer')} · :+1: {t['up']} · :-1: {t['down']}{share}"
        f" · {_n(t['other'], 'other reaction')} · {_n(t['corrections'], 'correction')}"
    )
