"""Feedback records -> JSONL datasets in TRL's conversational formats.

- KTO: {"prompt": [...messages], "completion": [assistant], "label": bool}
  label from the answer's net vote (>0 true, <0 false, ties and unrated left
  out); each correction is also a desirable completion for its prompt.
- DPO: {"prompt", "chosen", "rejected"}: a correction (chosen) over the bot's
  answer (rejected), and, for the same question, a positively rated answer
  over a negatively rated one (prompt of the chosen answer).
- SFT: {"messages": prompt + [assistant]} for positively rated answers and corrections.

The prompt is exactly the system+context+question messages the model was
served (Answer.messages). Rows are de-duplicated; `holdout` moves a stable,
question-grouped share into a separate eval file.
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

from feedback.models import Answer, Correction, Vote
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
    corrections: list[str] = field(default_factory=list)


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


def load_records(
    eng: Engine, since: datetime | None = None, model: str | None = None, hits: bool = True
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
    cq = select(Correction.answer_id, Correction.text).order_by(Correction.created_at, Correction.id)
    if since is not None:
        q = q.where(Answer.created_at >= since)
        vq = vq.join(Answer, Answer.id == Vote.answer_id).where(Answer.created_at >= since)
        cq = cq.join(Answer, Answer.id == Correction.answer_id).where(Answer.created_at >= since)
    if model:
        q = q.where(Answer.model == model)
        if since is None:
            vq = vq.join(Answer, Answer.id == Vote.answer_id)
            cq = cq.join(Answer, Answer.id == Correction.answer_id)
        vq = vq.where(Answer.model == model)
        cq = cq.where(Answer.model == model)
    with eng.connect() as conn:
        recs = {
            r.id: Record(
                r.id, r.question, r.messages or [], r.answer or "", r.model, r.hits or [], _aware(r.created_at)
            )
            for r in conn.execute(q)
        }
        for answer_id, (net, n) in net_votes(conn.execute(vq)).items():
            if answer_id in recs:
                recs[answer_id].net, recs[answer_id].voters = net, n
        for answer_id, text in conn.execute(cq):
            if answer_id in recs:
                recs[answer_id].corrections.append(text)
    return list(recs.values())


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


def dpo_rows(recs: list[Record], skipped: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
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
                    },
                )
    for qk, group in by_question.items():
        good = [r for r in group if r.net > 0]
        bad = [r for r in group if r.net < 0]
        for g in good:
            for b in bad:
                if g.answer.strip() != b.answer.strip():
                    yield qk, {"prompt": g.messages, "chosen": _assistant(g.answer), "rejected": _assistant(b.answer)}


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
) -> ExportReport:
    if fmt not in BUILDERS:
        raise SpecbotError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    if not 0 <= holdout < 1:
        raise SpecbotError("--holdout must be in [0, 1)")
    recs = load_records(eng, since, model, hits=False)
    skipped: dict[str, int] = {}
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for group, row in BUILDERS[fmt](recs, skipped):
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        h = hashlib.sha1(line.encode()).hexdigest()
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
