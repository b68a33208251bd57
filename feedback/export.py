"""Feedback records -> JSONL datasets in TRL's conversational formats.

- KTO: {"prompt": [...messages], "completion": [assistant], "label": bool}
  label from the answer's net vote (>0 true, <0 false, ties and unrated left
  out); each correction is also a desirable completion for its prompt.
- DPO: {"prompt", "chosen", "rejected", "source"}: first the choices people made
  between two answers to the same question ("Which is better?", source "ab"),
  then a correction (chosen) over the bot's answer (rejected, source
  "correction"), then, for the same question, a positively rated answer over a
  negatively rated one (prompt of the chosen answer, source "votes").
- SFT: {"messages": prompt + [assistant]} for positively rated answers and corrections.

The prompt is exactly the system+context+question messages the model was
served (Answer.messages). Rows are de-duplicated; `holdout` moves a stable,
question-grouped share into a separate eval file.

Trust rules. A correction counts when its author asked the question, is a
reviewer (FEEDBACK_REVIEWERS), or a reviewer approved it in the Home tab; a
rejected one never counts; others are "unreviewed" and left out unless
`include_unreviewed`. A reviewer's decision on a 👎 answer: approve = the answer
is a bad example whatever the other votes say; reject = its 👎 votes are ignored.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, null, select

from feedback.models import Answer, Correction, Preference, Review, Vote
from specbot.errors import SpecbotError

FORMATS = ("kto", "dpo", "sft")


@dataclass
class Record:
    """One answer with what users said about it."""

    id: int
    question: str
    messages: list[dict[str, str]]
    answer: str
    model: str | None
    hits: list[dict[str, Any]]
    created_at: datetime
    net: int = 0
    voters: int = 0
    # Corrections that count under the trust rules (plus unreviewed ones when asked for).
    corrections: list[str] = field(default_factory=list)
    unreviewed: int = 0


@dataclass
class ExportReport:
    format: str
    out: Path
    rows: int
    eval_out: Path | None = None
    eval_rows: int = 0
    answers: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "out": str(self.out),
            "rows": self.rows,
            "eval_out": str(self.eval_out) if self.eval_out else None,
            "eval_rows": self.eval_rows,
            "answers": self.answers,
            "skipped": self.skipped,
        }


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        try:
            d = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            raise SpecbotError(f"--since {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)") from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def net_votes(rows: Iterable[tuple[int, str, int | None, datetime, datetime | None]]) -> dict[int, tuple[int, int]]:
    """answer_id -> (net vote, voters). Per voter only the latest active valued vote counts."""
    latest: dict[tuple[int, str], tuple[datetime, int]] = {}
    for answer_id, voter, value, added_at, removed_at in rows:
        if value is None or removed_at is not None:
            continue
        key = (answer_id, voter)
        prev = latest.get(key)
        # All stored times are UTC: naive (SQLite) and aware (PostgreSQL) never mix within one database.
        if prev is None or added_at >= prev[0]:
            latest[key] = (added_at, 1 if value > 0 else -1 if value < 0 else 0)
    out: dict[int, tuple[int, int]] = {}
    for (answer_id, _voter), (_t, v) in latest.items():
        net, n = out.get(answer_id, (0, 0))
        out[answer_id] = (net + v, n + 1)
    return out


def _aware(d: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def reviewer_hashes() -> set[str]:
    """FEEDBACK_REVIEWERS as stored in the records (hashed like every user ID)."""
    from feedback.store import hash_user
    from specbot.settings import get_settings

    return {h for h in (hash_user(r) for r in get_settings().reviewers) if h}


def correction_status(author: str | None, asker: str | None, review: str | None, reviewers: set[str]) -> str:
    """trusted | rejected | unreviewed, by the trust rules in the module doc."""
    if review == "reject":
        return "rejected"
    if review == "approve" or (author and (author == asker or author in reviewers)):
        return "trusted"
    return "unreviewed"


def load_records(
    eng: Engine,
    since: datetime | None = None,
    model: str | None = None,
    hits: bool = True,
    include_unreviewed: bool = False,
) -> list[Record]:
    """Answers with their net votes and corrections. `hits=False` skips decoding the
    retrieved sources (the export does not need them)."""
    q = select(
        Answer.id,
        Answer.question,
        Answer.messages,
        Answer.answer,
        Answer.model,
        Answer.hits if hits else null().label("hits"),
        Answer.created_at,
    ).order_by(Answer.id)
    # Only standing votes with a value can count; filtering in SQL keeps the rest off the wire.
    vq = select(Vote.answer_id, Vote.voter, Vote.value, Vote.added_at, Vote.removed_at).where(
        Vote.removed_at.is_(None), Vote.value.is_not(None)
    )
    cq = (
        select(Correction.id, Correction.answer_id, Correction.text, Correction.author, Answer.asker)
        .join(Answer, Answer.id == Correction.answer_id)
        .order_by(Correction.created_at, Correction.id)
    )
    if since is not None:
        q = q.where(Answer.created_at >= since)
        vq = vq.join(Answer, Answer.id == Vote.answer_id).where(Answer.created_at >= since)
        cq = cq.where(Answer.created_at >= since)
    if model:
        q = q.where(Answer.model == model)
        if since is None:
            vq = vq.join(Answer, Answer.id == Vote.answer_id)
        vq = vq.where(Answer.model == model)
        cq = cq.where(Answer.model == model)
    reviewers = reviewer_hashes()
    with eng.connect() as conn:
        recs = {
            r.id: Record(
                r.id, r.question, r.messages or [], r.answer or "", r.model, r.hits or [], _aware(r.created_at)
            )
            for r in conn.execute(q)
        }
        reviews = {(k, t): d for k, t, d in conn.execute(select(Review.kind, Review.target_id, Review.decision))}
        votes = conn.execute(vq).all()
        # A reviewer who rejected a 👎 answer's votes: its 👎 are ignored.
        votes = [v for v in votes if not ((v[2] or 0) < 0 and reviews.get(("answer", v[0])) == "reject")]
        for answer_id, (net, n) in net_votes(votes).items():
            if answer_id in recs:
                recs[answer_id].net, recs[answer_id].voters = net, n
        for aid, decision in ((t, d) for (k, t), d in reviews.items() if k == "answer"):
            # Approved 👎: a bad example whatever the other voters said.
            if decision == "approve" and aid in recs:
                r = recs[aid]
                r.net, r.voters = min(r.net, -1), max(r.voters, 1)
        for cid, answer_id, text, author, asker in conn.execute(cq):
            if answer_id not in recs:
                continue
            status = correction_status(author, asker, reviews.get(("correction", cid)), reviewers)
            if status == "trusted" or (status == "unreviewed" and include_unreviewed):
                recs[answer_id].corrections.append(text)
            elif status == "unreviewed":
                recs[answer_id].unreviewed += 1
    return list(recs.values())


@dataclass
class Pair:
    """A person's choice between two answers to one question (the A/B buttons)."""

    question: str
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    source: str


def load_preferences(eng: Engine, since: datetime | None = None, model: str | None = None) -> list[Pair]:
    """A/B choices as (chosen, rejected) pairs; "neither" gives no pair.

    The prompt is answer A's: B was generated from the same messages, so the pair
    shares one prompt as DPO requires.
    """
    from sqlalchemy.orm import aliased

    a, b = aliased(Answer), aliased(Answer)
    q = (
        select(Preference.choice, Preference.source, a.question, a.messages, a.answer, b.answer, a.model, b.model)
        .join(a, a.id == Preference.answer_a_id)
        .join(b, b.id == Preference.answer_b_id)
        .where(Preference.choice.in_(("a", "b")))
        .order_by(Preference.id)
    )
    if since is not None:
        q = q.where(a.created_at >= since)
    out: list[Pair] = []
    with eng.connect() as conn:
        for choice, source, question, messages, ans_a, ans_b, model_a, model_b in conn.execute(q):
            if model and model not in (model_a, model_b):
                continue
            if not messages or not (ans_a or "").strip() or not (ans_b or "").strip():
                continue
            chosen, rejected = (ans_a, ans_b) if choice == "a" else (ans_b, ans_a)
            out.append(Pair(question, messages, chosen, rejected, source or "ab"))
    return out


def question_key(q: str) -> str:
    """Same question = same words, ignoring case, spacing and trailing punctuation."""
    return re.sub(r"\s+", " ", q).strip().rstrip("?？.!").casefold()


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _usable(r: Record) -> bool:
    # Error answers were never generated from a prompt: nothing to learn from.
    return bool(r.messages) and bool(r.answer.strip())


def kto_rows(recs: list[Record], skipped: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
    # Sum votes over identical (prompt, completion) pairs so duplicates agree on one label.
    agg: dict[str, list[Any]] = {}
    for r in recs:
        if not _usable(r):
            skipped["no_prompt"] = skipped.get("no_prompt", 0) + 1
            continue
        if r.voters:
            key = _key(r.messages, r.answer)
            agg.setdefault(key, [r, r.answer, 0])[2] += r.net
        for c in r.corrections:
            key = _key(r.messages, c)
            agg.setdefault(key, [r, c, 0])[2] += 1_000_000  # a correction is desirable by definition
    for r, text, net in agg.values():
        if net == 0:
            skipped["tie"] = skipped.get("tie", 0) + 1
            continue
        yield question_key(r.question), {"prompt": r.messages, "completion": _assistant(text), "label": net > 0}


def dpo_rows(
    recs: list[Record], skipped: dict[str, int], pairs: list[Pair] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    # A person comparing two answers side by side is the strongest signal: those pairs come first.
    for p in pairs or []:
        if p.chosen.strip() != p.rejected.strip():
            yield (
                question_key(p.question),
                {
                    "prompt": p.prompt,
                    "chosen": _assistant(p.chosen),
                    "rejected": _assistant(p.rejected),
                    "source": p.source,
                },
            )
    by_question: dict[str, list[Record]] = defaultdict(list)
    for r in recs:
        if not _usable(r):
            skipped["no_prompt"] = skipped.get("no_prompt", 0) + 1
            continue
        by_question[question_key(r.question)].append(r)
        for c in r.corrections:
            if c.strip() != r.answer.strip():
                yield (
                    question_key(r.question),
                    {
                        "prompt": r.messages,
                        "chosen": _assistant(c),
                        "rejected": _assistant(r.answer),
                        "source": "correction",
                    },
                )
    for qk, group in by_question.items():
        good = [r for r in group if r.net > 0]
        bad = [r for r in group if r.net < 0]
        for g in good:
            for b in bad:
                if g.answer.strip() != b.answer.strip():
                    yield (
                        qk,
                        {
                            "prompt": g.messages,
                            "chosen": _assistant(g.answer),
                            "rejected": _assistant(b.answer),
                            "source": "votes",
                        },
                    )


def sft_rows(recs: list[Record], skipped: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
    for r in recs:
        if not _usable(r):
            skipped["no_prompt"] = skipped.get("no_prompt", 0) + 1
            continue
        if r.net > 0:
            yield question_key(r.question), {"messages": r.messages + _assistant(r.answer)}
        for c in r.corrections:
            yield question_key(r.question), {"messages": r.messages + _assistant(c)}


BUILDERS = {"kto": kto_rows, "dpo": dpo_rows, "sft": sft_rows}


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _in_holdout(groups: list[str], holdout: float) -> set[str]:
    """A stable, question-grouped held-out set: the same question never sits on both sides."""
    if holdout <= 0 or len(groups) < 2:
        return set()
    n = min(len(groups) - 1, max(1, math.ceil(holdout * len(groups))))
    ranked = sorted(groups, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
    return set(ranked[:n])


def eval_path(out: Path) -> Path:
    return out.with_name(out.stem + ".eval" + (out.suffix or ".jsonl"))


def export(
    fmt: str,
    out: Path,
    eng: Engine,
    since: datetime | None = None,
    model: str | None = None,
    holdout: float = 0.0,
    include_unreviewed: bool = False,
) -> ExportReport:
    if fmt not in BUILDERS:
        raise SpecbotError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if not 0 <= holdout < 1:
        raise SpecbotError("--holdout must be in [0, 1)")
    recs = load_records(eng, since, model, hits=False, include_unreviewed=include_unreviewed)
    skipped: dict[str, int] = {}
    unreviewed = sum(r.unreviewed for r in recs)
    if unreviewed:
        skipped["unreviewed_correction"] = unreviewed
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    built = (
        dpo_rows(recs, skipped, load_preferences(eng, since, model)) if fmt == "dpo" else BUILDERS[fmt](recs, skipped)
    )
    for group, row in built:
        # Identity ignores the source: the same pair from A/B and from votes is one row (the A/B one, first).
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        ident = json.dumps({k: v for k, v in row.items() if k != "source"}, sort_keys=True)
        h = hashlib.sha1(ident.encode()).hexdigest()
        if h in seen:
            skipped["duplicate"] = skipped.get("duplicate", 0) + 1
            continue
        seen.add(h)
        rows.append((group, line))
    held = _in_holdout(sorted({g for g, _ in rows}), holdout)
    train = [line for g, line in rows if g not in held]
    evals = [line for g, line in rows if g in held]
    ev = eval_path(out) if holdout > 0 else None
    _write_lines(out, train)
    if ev:
        _write_lines(ev, evals)
    return ExportReport(fmt, out, len(train), ev, len(evals), len(recs), skipped)


def _write_lines(path: Path, lines: list[str]) -> None:
    """Write beside, then rename: a crash never leaves a half-written dataset behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    tmp.replace(path)
