"""The answer guard: a generated answer is shown only when it can be trusted.

Three rules, each cheap and model-free, run on every generated answer:

- **echo**: the answer repeats the prompt's own instructions (a small model asked in
  Korean answered with "질문이 한국어이면 한국어로 답하십시오."), or just the question.
- **language**: the answer is not in the question's language (Korean question, Korean
  answer; English question, English answer).
- **unsupported**: the answer's words are mostly not in the context blocks it was given,
  or it states a number that appears nowhere in them (nor in the question).

A rejected answer is never shown. `quote_answer` builds the replacement: the
sentences of the top section that best match the question, labelled as a quote with
its section, the label in the question's language (the quoted text stays as the
document wrote it). The same quote stands in when generation fails after its retries.

`relevance` decides, before the model is called, whether retrieval found anything
relevant at all (a calibrated threshold, see README "The answer guard").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.models import Hit
from specbot.i18n import choose, t

_LATIN_WORD = re.compile(r"[0-9A-Za-z]+(?:[.\-_][0-9A-Za-z]+)*")
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
# Sentence ends: . ! ? (and CJK full stops) followed by space, or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n+")
_LIST_MARK = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+", re.M)
_CITE_MARK = re.compile(r"\[\d{1,2}\]|\(§[^)]*\)|§\s*[\w.]+")
STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "shall",
        "should",
        "will",
        "must",
        "may",
        "can",
        "and",
        "or",
        "for",
        "on",
        "with",
        "at",
        "by",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "as",
        "from",
        "if",
        "when",
        "then",
        "than",
        "which",
        "what",
        "who",
        "how",
        "does",
        "do",
        "not",
        "no",
        "yes",
        "there",
        "their",
        "they",
        "he",
        "she",
        "we",
        "you",
        "your",
        "our",
        "any",
        "all",
        "each",
        "per",
        "into",
        "under",
        "over",
        "also",
        "only",
        "such",
        "other",
    ]
)
# How much of an answer's vocabulary must come from its context blocks (or the question).
MIN_SUPPORT = 0.5
# Share of an answer's word trigrams found in the instructions that makes it an echo.
MAX_ECHO = 0.5


def language_of(text: str) -> str:
    """ "ko" when Hangul is a real share of the letters, else "en" (a Hangul syllable
    carries about three Latin letters' worth of text)."""
    h, latin = len(_HANGUL.findall(text)), len(_LATIN.findall(text))
    return "ko" if h and h * 3 >= latin else "en"


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def terms(text: str) -> set[str]:
    """Latin/number words (no stop words) and Hangul bigrams: a Korean word carries its
    particles ("메모리에"), so two-syllable pieces are what two spellings share."""
    text = unicodedata.normalize("NFKC", text)
    out = {w.lower() for w in _LATIN_WORD.findall(text) if w.lower() not in STOP and len(w) > 1}
    for run in _HANGUL_RUN.findall(text):
        if len(run) == 1:
            continue
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _norm(text).split()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def echoes(answer: str, instructions: Iterable[str], question: str = "") -> bool:
    """The answer repeats an instruction sentence, is mostly made of the instructions'
    word trigrams, or is only the question again."""
    a = _norm(answer)
    if not a:
        return False
    instr = list(instructions)
    for block in instr:
        for sent in _sentences(block):
            s = _norm(sent)
            if len(s) >= 12 and s in a:
                return True
    grams = _trigrams(answer)
    if grams:
        pool: set[tuple[str, ...]] = set()
        for block in instr:
            pool |= _trigrams(block)
        if len(grams & pool) / len(grams) >= MAX_ECHO:
            return True
    q = _norm(question)
    return bool(q) and (a == q or (len(a) >= 8 and a in q))


def wrong_language(answer: str, question: str) -> bool:
    return language_of(answer) != language_of(question)


def support(answer: str, context: str, question: str = "") -> float | None:
    """Share of the answer's terms found in the context (or the question).

    Only terms in scripts the context is written in count: a Korean answer about an
    English spec is judged by its English terms and numbers. None when too few terms
    are left to judge."""
    body = _CITE_MARK.sub(" ", _LIST_MARK.sub("", answer))
    have = terms(context) | terms(question)
    words = terms(body)
    if not _HANGUL.search(context):
        words = {w for w in words if not _HANGUL.search(w)}
    if len(words) < 3:
        return None
    return len(words & have) / len(words)


def invented_numbers(answer: str, context: str, question: str = "") -> list[str]:
    """Numbers in the answer that appear nowhere in the context or the question."""
    body = _CITE_MARK.sub(" ", _LIST_MARK.sub("", answer))
    known = {n.replace(",", "") for n in _NUMBER.findall(f"{context} {question}")}
    return [n for n in _NUMBER.findall(body) if n.replace(",", "") not in known]


def context_text(hits: Sequence[Hit]) -> str:
    return "\n".join(f"{h.section} {h.cite} {h.title}\n{h.text}" for h in hits)


def check_answer(question: str, answer: str, hits: Sequence[Hit], instructions: Iterable[str] = ()) -> list[str]:
    """The problems that keep a generated answer from being shown ([] when it may be)."""
    problems: list[str] = []
    if not answer.strip():
        return ["empty"]
    if echoes(answer, instructions, question):
        problems.append("echo")
    if wrong_language(answer, question):
        problems.append(f"language: answer {language_of(answer)}, question {language_of(question)}")
    ctx = context_text(hits)
    share = support(answer, ctx, question)
    if share is not None and share < MIN_SUPPORT:
        problems.append(f"unsupported: {share:.0%} of its terms are in the context")
    invented = invented_numbers(answer, ctx, question)
    if invented:
        problems.append(f"unsupported: numbers not in the context: {', '.join(invented[:3])}")
    return problems


# --- the quote that replaces a rejected answer -----------------------------------
MAX_QUOTE_CHARS = 600


def _place(h: Hit) -> str:
    if h.section:
        return f"§ {h.section} {h.title}".strip()
    return f"§ {h.cite}" if h.cite else (h.title.strip() or "(front matter)")


def best_sentences(question: str, text: str, n: int = 2, max_chars: int = MAX_QUOTE_CHARS) -> list[str]:
    """The n sentences of `text` sharing most terms with the question, in document order.

    Table rule rows and bare headings are skipped; when nothing shares a term (a Korean
    question about an English section), the section's first sentences are its gist."""
    sents = [s for s in _sentences(text) if len(terms(s)) >= 2 and not set(s.strip()) <= set("|-+: ")]
    if not sents:
        return [text.strip()[:max_chars]] if text.strip() else []
    q = terms(question)
    scored = sorted(range(len(sents)), key=lambda i: (-len(terms(sents[i]) & q), i))
    picked = sorted(scored[:n]) if q and len(terms(sents[scored[0]]) & q) else list(range(min(n, len(sents))))
    out: list[str] = []
    used = 0
    for i in picked:
        s = sents[i]
        if used + len(s) > max_chars:
            if not out:
                out.append(s[: max_chars - 1] + "…")
            break
        out.append(s)
        used += len(s)
    return out


@dataclass(frozen=True)
class Quote:
    text: str
    hit: Hit


def quote_answer(question: str, hits: Sequence[Hit], label: str = "quote_label") -> Quote | None:
    """A labelled extractive answer from the top section; None without hits."""
    if not hits:
        return None
    top = hits[0]
    lang = choose(question)
    sents = best_sentences(question, top.text)
    body = " ".join(sents)
    head = t(label, lang, doc=top.doc, place=_place(top))
    return Quote(text=f"{head}\n“{body}”", hit=top)


def is_quote(answer: str) -> bool:
    """An answer made by `quote_answer` (in either language)."""
    from specbot.i18n import CATALOG

    heads = [CATALOG[lang][key].split("{", 1)[0] for lang in CATALOG for key in ("quote_label", "quote_label_down")]
    return any(answer.startswith(h) for h in heads)


def eval_guard(question: str, result: dict[str, Any]) -> list[str]:
    """`specbot eval --answers`' hook: the guard's rules on the answer as shown.

    A shown answer that still echoes the prompt or is in the wrong language means the
    guard failed; a golden question answered "not in the documents" means the
    unanswerable threshold is too strict. A quote is checked by its lead-in (the
    quoted text keeps the document's language)."""
    from specbot.i18n import t
    from workers.prompt import SYSTEM_EN, SYSTEM_KO

    answer = (result.get("answer") or "").strip()
    if not answer or result.get("error"):
        return []  # indexer.eval's own checks report these
    if answer in (t("not_found", "en"), t("not_found", "ko")):
        return ["declared not in the documents"]
    hits = [
        Hit(h["doc"], h.get("section", ""), h.get("title", ""), h.get("text", ""), 0.0, h.get("cite", ""))
        for h in result.get("sources") or []
    ]
    if is_quote(answer):
        lead = answer.splitlines()[0]
        return [] if language_of(lead) == language_of(question) else [f"quote label in {language_of(lead)}"]
    problems = check_answer(question, answer, hits, [SYSTEM_EN, SYSTEM_KO])
    # Only the top sources are shown with the answer; support is judged against the
    # context blocks at answer time, so here a low share is not a failure by itself.
    return [p for p in problems if not p.startswith("unsupported")]


# --- unanswerable questions ------------------------------------------------------
def lexical_relevance(question: str, hits: Sequence[Hit], top: int = 3) -> float:
    """Best share of the question's terms found in one of the top hits."""
    q = terms(question)
    if not q:
        return 0.0
    return max((len(q & terms(f"{h.title} {h.text}")) / len(q) for h in hits[:top]), default=0.0)
