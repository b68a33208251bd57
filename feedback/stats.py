"""`specbot feedback stats` and Slack's `/spec stats`: how well answers are received, and where.

Both print `totals()` (answers, standing reactions by vote, corrections), so
Slack and the CLI cannot disagree. The CLI adds the breakdowns:
approval rate = rated answers with a positive net vote / rated answers
(an answer is rated when at least one voter's latest valued vote stands).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from feedback.export import Record, load_records
from feedback.models import Answer, Correction, Vote


def _rate(recs: list[Record]) -> dict[str, Any]:
    rated = [r for r in recs if r.voters]
    up = sum(1 for r in rated if r.net > 0)
    return {
        "answers": len(recs),
        "rated": len(rated),
        "share_rated": len(rated) / len(recs) if recs else 0.0,
        "approved": up,
        "approval": up / len(rated) if rated else None,
        "corrections": sum(len(r.corrections) for r in recs),
    }


def totals(eng: Engine | None = None, since: datetime | None = None, model: str | None = None) -> dict[str, int]:
    """Answers, standing reactions on them (up / down / other emoji) and corrections."""
    if eng is None:
        from feedback.store import get_engine

        eng = get_engine()

    def scoped(q: Any, via: Any) -> Any:
        if since is None and not model:
            return q
        q = q.join(Answer, Answer.id == via) if via is not None else q
        if since is not None:
            q = q.where(Answer.created_at >= since)
        if model:
            q = q.where(Answer.model == model)
        return q

    out = {"answers": 0, "up": 0, "down": 0, "other": 0, "corrections": 0}
    with eng.connect() as db:
        out["answers"] = db.scalar(scoped(select(func.count()).select_from(Answer), None)) or 0
        votes = select(Vote.value, func.count()).where(Vote.removed_at.is_(None))
        for value, n in db.execute(scoped(votes, Vote.answer_id).group_by(Vote.value)):
            key = "other" if value is None or value == 0 else "up" if value > 0 else "down"
            out[key] += int(n)
        corr = select(func.count()).select_from(Correction)
        out["corrections"] = db.scalar(scoped(corr, Correction.answer_id)) or 0
    return out


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _helpful(t: dict[str, int]) -> str:
    rated = t["up"] + t["down"]
    return f" ({100 * t['up'] // rated}% helpful)" if rated else ""


def summary_line(t: dict[str, int]) -> str:
    return (
        f"{_n(t['answers'], 'answer')} · 👍 {t['up']} · 👎 {t['down']}{_helpful(t)}"
        f" · {_n(t['other'], 'other reaction')} · {_n(t['corrections'], 'correction')}"
    )


def slack_summary(t: dict[str, int]) -> str:
    return (
        f"*Feedback so far:* {_n(t['answers'], 'answer')} · :+1: {t['up']} · :-1: {t['down']}{_helpful(t)}"
        f" · {_n(t['other'], 'other reaction')} · {_n(t['corrections'], 'correction')}"
    )


def compute_stats(eng: Engine, since: datetime | None = None, model: str | None = None) -> dict[str, Any]:
    recs = load_records(eng, since, model)
    by_section: dict[tuple[str, str], list[Record]] = defaultdict(list)
    by_doc: dict[str, list[Record]] = defaultdict(list)
    by_model: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        by_model[r.model or "(none)"].append(r)
        # An answer counts for every section it was grounded on (once per section).
        seen: set[tuple[str, str]] = set()
        for h in r.hits:
            key = (str(h.get("doc") or "?"), str(h.get("section") or ""))
            if key not in seen:
                seen.add(key)
                by_section[key].append(r)
        for d in {k[0] for k in seen}:
            by_doc[d].append(r)
    return {
        "totals": totals(eng, since, model),
        "total": _rate(recs),
        "by_model": {m: _rate(v) for m, v in sorted(by_model.items())},
        "by_document": {d: _rate(v) for d, v in sorted(by_doc.items())},
        "by_section": [
            {"doc": d, "section": s, **_rate(v)}
            for (d, s), v in sorted(by_section.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "over_time": over_time(recs),
    }


def over_time(recs: list[Record]) -> list[dict[str, Any]]:
    """Approval per day, or per week once the history is longer than two months."""
    rated = [r for r in recs if r.voters]
    if not rated:
        return []
    span = max(r.created_at for r in rated) - min(r.created_at for r in rated)
    weekly = span > timedelta(days=60)
    buckets: dict[str, list[Record]] = defaultdict(list)
    for r in rated:
        d = r.created_at.date()
        if weekly:
            d = d - timedelta(days=d.weekday())
        buckets[d.isoformat()].append(r)
    return [
        {"period": k, "rated": len(v), "approval": sum(1 for r in v if r.net > 0) / len(v)}
        for k, v in sorted(buckets.items())
    ]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def render(stats: dict[str, Any], top: int = 15) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"Feedback so far: {summary_line(stats['totals'])}")
    t = stats["total"]
    summary = Table(title="Feedback")
    for col in ("answers", "rated", "share rated", "approval", "corrections"):
        summary.add_column(col, justify="right")
    summary.add_row(
        str(t["answers"]), str(t["rated"]), _pct(t["share_rated"]), _pct(t["approval"]), str(t["corrections"])
    )
    console.print(summary)

    def table(title: str, key_cols: list[str], rows: list[tuple[list[str], dict[str, Any]]]) -> None:
        tb = Table(title=title)
        for c in key_cols:
            tb.add_column(c)
        for c in ("answers", "rated", "approval", "corrections"):
            tb.add_column(c, justify="right")
        for keys, r in rows[:top]:
            tb.add_row(*keys, str(r["answers"]), str(r["rated"]), _pct(r["approval"]), str(r["corrections"]))
        console.print(tb)

    table("By model / adapter", ["model"], [([m], r) for m, r in stats["by_model"].items()])
    table("By document", ["document"], [([d], r) for d, r in stats["by_document"].items()])
    table(
        f"By section (top {top} by answers)",
        ["document", "section"],
        [([r["doc"], r["section"] or "—"], r) for r in stats["by_section"]],
    )


def plot(stats: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    pts = stats["over_time"]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    if pts:
        xs = [datetime.fromisoformat(p["period"]) for p in pts]
        ax.plot(xs, [100 * p["approval"] for p in pts], marker="o", color="tab:green", label="approval %")
        ax2 = ax.twinx()
        ax2.bar(xs, [p["rated"] for p in pts], alpha=0.2, color="tab:blue", label="rated answers")
        ax2.set_ylabel("rated answers")
        fig.autofmt_xdate()
    else:
        ax.text(0.5, 0.5, "no rated answers yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 105)
    ax.set_ylabel("approval rate (%)")
    ax.set_title("specbot answers: approval rate over time")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def approval_png(points: list[dict[str, Any]], title: str = "Approval, last 8 weeks") -> bytes | None:
    """A small PNG of weekly approval (bars: rated answers) for the Home tab; None without matplotlib.

    matplotlib comes with the `train` extra; a bot installed without it shows a text sparkline instead.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    import io

    labels = [p["week"][5:] for p in points]  # MM-DD of each week's Monday
    fig, ax = plt.subplots(figsize=(6, 2.4), dpi=100)
    xs = list(range(len(points)))
    ax2 = ax.twinx()
    ax2.bar(xs, [p["rated"] for p in points], alpha=0.2, color="tab:blue")
    ax2.set_ylabel("rated")
    ys = [None if p["approval"] is None else 100 * p["approval"] for p in points]
    ax.plot([x for x, y in zip(xs, ys, strict=True) if y is not None], [y for y in ys if y is not None],
            marker="o", color="tab:green")  # fmt: skip
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylim(0, 105)
    ax.set_ylabel("approval %")
    ax.set_xticks(xs, labels)
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
