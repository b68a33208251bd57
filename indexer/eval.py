"""`specbot eval GOLDEN.jsonl`: how well search (and, with --answers, the bot) does on a
team's own questions.

A golden file has one JSON object per line:

    {"id": "p-24-05", "lang": "en", "kind": "whatif", "wording": "other",
     "question": "What happens when the UE has tried to attach five times?",
     "doc": "3gpp_ts24301_j10.docx", "section": "5.5.1.2.6", "also": ["5.5.1.2.5"],
     "expect": "T3402"}

- `doc` and `section` name where the answer is; `section` is the number as Word shows
  it, or for an unnumbered heading its cite ("7.4 › VarMeasReportList"). `also` lists
  accepted alternatives (an answer that sits in two places).
- `lang` groups the scores: "en", "ko" or "ko-en" (a Korean question about an English
  document). `kind` and `wording` ("own": the section's words, "other": paraphrase)
  group them too; both are optional.
- `expect` (optional) is a string the answer must contain; only `--answers` reads it.

Retrieval is scored per search mode: recall@1, recall@5 and MRR (over the top k), by
language, kind and wording, with the misses. A hit counts when its doc matches and its
section or cite is the expected one or an accepted alternative.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.models import Hit

K_DEFAULT = 10
SearchFn = Callable[[str, int, str], list[Hit]]  # (question, k, mode) -> hits
# (question, doc or None) -> the ask JSON: {"answer": "...", "sources": [hit...]}
AnswerFn = Callable[[str, str | None], dict[str, Any]]
# (question, ask JSON) -> problems found ([] when the answer may be shown)
GuardFn = Callable[[str, dict[str, Any]], list[str]]


class GoldenError(ValueError):
    """A golden file that cannot be used: says which line and why."""


@dataclass
class Golden:
    id: str
    question: str
    doc: str
    section: str
    lang: str = "en"
    kind: str = ""
    wording: str = ""
    also: list[str] = field(default_factory=list)
    expect: str = ""

    @property
    def accepted(self) -> set[str]:
        return {self.section, *self.also}


def load_golden(path: str | Path) -> list[Golden]:
    out: list[Golden] = []
    seen: set[str] = set()
    p = Path(path)
    if not p.is_file():
        raise GoldenError(f"no such golden file: {p}")
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise GoldenError(f"{p}:{n}: not JSON ({e.msg})") from None
        missing = [k for k in ("question", "doc", "section") if not d.get(k)]
        if missing:
            raise GoldenError(f"{p}:{n}: missing {', '.join(missing)}")
        qid = str(d.get("id") or f"line-{n}")
        if qid in seen:
            raise GoldenError(f"{p}:{n}: duplicate id {qid!r}")
        seen.add(qid)
        out.append(
            Golden(
                id=qid,
                question=d["question"],
                doc=d["doc"],
                section=d["section"],
                lang=d.get("lang") or "en",
                kind=d.get("kind") or "",
                wording=d.get("wording") or "",
                also=list(d.get("also") or []),
                expect=d.get("expect") or "",
            )
        )
    if not out:
        raise GoldenError(f"{p}: no questions")
    return out


def hit_label(h: Hit | dict[str, Any]) -> str:
    """The section a hit names: its number, or its cite when it has none."""
    if isinstance(h, dict):
        return h.get("section") or h.get("cite") or h.get("title", "")
    return h.section or h.cite or h.title


def rank_of(hits: Iterable[Hit | dict[str, Any]], q: Golden) -> int | None:
    """1-based rank of the first hit in the expected doc and an accepted section."""
    for i, h in enumerate(hits, 1):
        doc = h["doc"] if isinstance(h, dict) else h.doc
        if doc == q.doc and hit_label(h) in q.accepted:
            return i
    return None


def score(ranks: list[int | None]) -> dict[str, Any]:
    n = len(ranks) or 1
    return {
        "recall@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "recall@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        "n": len(ranks),
    }


def evaluate(
    golden: list[Golden], search_fn: SearchFn, modes: Iterable[str], k: int = K_DEFAULT, progress: bool = False
) -> dict[str, Any]:
    """Retrieval scores per mode, and per mode by language, kind and wording."""
    out: dict[str, Any] = {"k": k, "questions": len(golden), "modes": {}, "by": {}, "misses": {}}
    for mode in modes:
        ranks: list[int | None] = []
        groups: dict[str, dict[str, list[int | None]]] = {"lang": defaultdict(list), "kind": defaultdict(list)}
        groups["wording"] = defaultdict(list)
        misses = []
        t0 = time.perf_counter()
        for i, q in enumerate(golden, 1):
            hits = search_fn(q.question, k, mode)
            r = rank_of(hits, q)
            ranks.append(r)
            groups["lang"][q.lang].append(r)
            if q.kind:
                groups["kind"][q.kind].append(r)
            if q.wording:
                groups["wording"][q.wording].append(r)
            if r != 1:
                misses.append(
                    {
                        "id": q.id,
                        "rank": r,
                        "question": q.question,
                        "expected": f"{q.doc} § {q.section}",
                        "got": [f"{h.doc} § {hit_label(h)}" for h in hits[:3]],
                    }
                )
            if progress and i % 25 == 0:
                print(f"  {mode}: {i}/{len(golden)}", flush=True)
        ms = 1000 * (time.perf_counter() - t0) / max(1, len(golden))
        out["modes"][mode] = {**score(ranks), "ms_per_query": round(ms, 1)}
        out["by"][mode] = {g: {name: score(v) for name, v in sorted(d.items())} for g, d in groups.items()}
        out["misses"][mode] = misses
    return out


# --- answers (--answers) ---------------------------------------------------------
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
_QUOTED = re.compile(r"“[^”]*”", re.S)


def language_of(text: str) -> str:
    """ "ko" when Hangul is a real share of the letters, else "en"."""
    h, latin = len(_HANGUL.findall(text)), len(_LATIN.findall(text))
    return "ko" if h and h * 3 >= latin else "en"


def basic_guard(question: str, result: dict[str, Any]) -> list[str]:
    """Checks that need no model: an answer exists, has sources, and is in the question's language.

    The worker-side answer guard (echoed prompts, unsupported claims) plugs in through
    `evaluate_answers(guard=...)`; these checks always run as well.
    """
    answer = (result.get("answer") or "").strip()
    problems = []
    if result.get("error"):
        problems.append(f"error: {result['error']}")
    if not answer:
        problems.append("empty answer")
    elif language_of(_QUOTED.sub(" ", answer)) != language_of(question):
        # Quoted document text (“…”) keeps its own language: a Korean lead-in to an
        # English quote is a Korean answer.
        lang = language_of(_QUOTED.sub(" ", answer))
        problems.append(f"answer in {lang}, question in {language_of(question)}")
    if not result.get("sources"):
        problems.append("no sources")
    return problems


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def evaluate_answers(
    golden: list[Golden], answer_fn: AnswerFn, guard: GuardFn | None = None, progress: bool = False
) -> dict[str, Any]:
    """Ask every question; check `expect`, the cited section and the guards.

    A question passes when its answer contains `expect` (case- and space-insensitive;
    questions without one skip this check), a source names the expected section, and no
    guard found a problem.
    """
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(golden, 1):
        t0 = time.perf_counter()
        try:
            res = answer_fn(q.question, None)
        except Exception as e:
            res = {"answer": "", "sources": [], "error": f"{type(e).__name__}: {e}"}
        problems = basic_guard(q.question, res) + (guard(q.question, res) if guard else [])
        expect_ok = not q.expect or _norm(q.expect) in _norm(res.get("answer") or "")
        cited = rank_of(res.get("sources") or [], q) is not None
        rows.append(
            {
                "id": q.id,
                "lang": q.lang,
                "expect_ok": expect_ok,
                "cited": cited,
                "problems": problems,
                "passed": expect_ok and cited and not problems,
                # The answer pipeline says so when it showed a quote instead of the model's text.
                "quoted": bool(res.get("quoted")),
                "seconds": round(time.perf_counter() - t0, 2),
                "answer": (res.get("answer") or "")[:300],
            }
        )
        if progress:
            print(f"  answers: {i}/{len(golden)}", flush=True)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_lang[str(r["lang"])].append(r)

    def share(rs: list[dict], key: str) -> float:
        return round(sum(1 for r in rs if r[key]) / (len(rs) or 1), 3)

    return {
        "n": len(rows),
        "passed": share(rows, "passed"),
        "expect_ok": share(rows, "expect_ok"),
        "cited": share(rows, "cited"),
        "with_problems": round(sum(1 for r in rows if r["problems"]) / (len(rows) or 1), 3),
        "quoted": share(rows, "quoted"),
        "by_lang": {lang: {"n": len(rs), "passed": share(rs, "passed")} for lang, rs in sorted(by_lang.items())},
        "rows": rows,
    }


# --- report -------------------------------------------------------------------------
def format_report(res: dict[str, Any], max_misses: int = 15) -> str:
    lines = [f"{res['questions']} questions, top {res['k']} per question"]
    lines.append(f"{'mode':8} {'group':16} {'n':>4} {'R@1':>6} {'R@5':>6} {'MRR':>6} {'ms/q':>7}")
    for mode, m in res["modes"].items():
        lines.append(
            f"{mode:8} {'all':16} {m['n']:4d} {m['recall@1']:6.3f} {m['recall@5']:6.3f} {m['mrr']:6.3f} "
            f"{m['ms_per_query']:7.1f}"
        )
        for g in ("lang", "wording"):
            for name, s in res["by"][mode].get(g, {}).items():
                label = f"{g}={name}"
                lines.append(f"{'':8} {label:16} {s['n']:4d} {s['recall@1']:6.3f} {s['recall@5']:6.3f} {s['mrr']:6.3f}")
    for mode, misses in res["misses"].items():
        worst = [m for m in misses if m["rank"] is None or m["rank"] > 5]
        if not worst:
            continue
        lines.append(f"{mode}: {len(worst)} not in the top 5 (first {min(max_misses, len(worst))}):")
        for m in worst[:max_misses]:
            got = "; ".join(m["got"]) or "nothing"
            lines.append(f"  {m['id']}: {m['question']}  want {m['expected']}  got {got}")
    if "answers" in res:
        a = res["answers"]
        lines.append(
            f"answers: {a['n']} asked, passed {a['passed']:.3f} (expect {a['expect_ok']:.3f}, "
            f"cited {a['cited']:.3f}, with problems {a['with_problems']:.3f}, quoted {a.get('quoted', 0):.3f})"
        )
    return "\n".join(lines)
