"""Korean questions about English specs: an English gloss of the question for search.

A Korean question's Hangul words match nothing in an English spec's keyword index, and
the multilingual embedder places "어태치 절차에서 T3410 타이머" only roughly near the
English passage. So search also runs an English *gloss* of the question: its Latin
terms as written (T3410, RRC, PSM) plus the English words a domain glossary gives for
its Korean terms (어태치 → attach, 타이머 → timer). No model is involved, so it works
offline on a CPU; with a served LLM, multi-query rewriting (workers/retrieve.py) can
add its own English queries on top.

The shipped glossary (indexer/data/ko_en_glossary.tsv) covers 3GPP, MQTT-SN, flight
software and automotive vocabulary. A team adds its own terms with SEARCH_GLOSSARY
(same format); their lines win over the shipped ones for the same Korean spelling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).with_name("data") / "ko_en_glossary.tsv"
_ASCII_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9#._-]*")
_SPACE = re.compile(r"\s+")


class GlossaryError(ValueError):
    """A glossary file that cannot be read: says which line and why."""


@dataclass(frozen=True)
class Glossary:
    # (Korean spelling without spaces, English words), longest spelling first.
    entries: tuple[tuple[str, str], ...]

    def gloss(self, question: str) -> str:
        """The question's Latin terms plus the English for its Korean terms, in order.

        Spaces are ignored on both sides ("연결 해제" = "연결해제"), and a spelling inside
        a longer matched one does not match again (연결 inside 연결 해제).
        """
        # Matching runs on the question without spaces; `pos` maps back to the original.
        pos = [i for i, ch in enumerate(question) if not ch.isspace()]
        flat = "".join(question[i] for i in pos)
        taken = [False] * len(flat)
        found: list[tuple[int, str]] = []
        for ko, en in self.entries:
            start = flat.find(ko)
            while start >= 0:
                end = start + len(ko)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * len(ko)
                    found.append((pos[start], en))
                start = flat.find(ko, end)
        # Latin terms as written (spaces kept: SECURITY MODE COMMAND), in their place.
        for m in _ASCII_TERM.finditer(question):
            found.append((m.start(), m.group()))
        found.sort(key=lambda p: p[0])
        return " ".join(_unique_words(en for _, en in found))


def _unique_words(parts: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for part in parts:
        for w in part.split():
            seen.setdefault(w, None)
    return list(seen)


def _read(text: str, source: str, key: Callable[[str], str], expected: str) -> dict[str, str]:
    """`spelling|spelling<TAB>words` lines -> {key(spelling): words}; comments and blanks skipped."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise GlossaryError(f"{source}:{n}: expected '{expected}', got {raw!r}")
        for spelling in parts[0].split("|"):
            k = key(spelling)
            if k:
                out[k] = parts[1].strip()
    return out


def _entries(
    shipped: Path, extra: str, setting: str, key: Callable[[str], str], expected: str
) -> tuple[tuple[str, str], ...]:
    """The shipped file plus a team's (whose lines win), longest spelling first."""
    terms = _read(shipped.read_text(encoding="utf-8"), str(shipped), key, expected)
    if extra:
        p = Path(extra)
        if not p.is_file():
            raise GlossaryError(f"{setting}: no such file: {p}")
        terms.update(_read(p.read_text(encoding="utf-8"), str(p), key, expected))
    return tuple(sorted(terms.items(), key=lambda kv: (-len(kv[0]), kv[0])))


def _korean_key(spelling: str) -> str:
    return _SPACE.sub("", spelling)


def _english_key(phrase: str) -> str:
    return " ".join(phrase.lower().split())


@lru_cache(maxsize=4)
def load(extra: str = "") -> Glossary:
    """The shipped glossary, plus a team's file (SEARCH_GLOSSARY) whose lines win."""
    return Glossary(_entries(SHIPPED, extra, "SEARCH_GLOSSARY", _korean_key, "korean|spellings<TAB>english words"))


# --- English questions in other words -------------------------------------------------
SHIPPED_EN = Path(__file__).with_name("data") / "en_spec_terms.tsv"


@dataclass(frozen=True)
class Synonyms:
    # (lower-case phrase, the spec's words), longest phrase first.
    entries: tuple[tuple[str, str], ...]

    def expand(self, question: str) -> str:
        """The spec's words for the everyday phrases of an English question ("switches
        the phone off" -> "switch off detach UE"); "" when none matched.

        Phrases match whole words only, and a phrase inside a longer matched one does
        not match again."""
        text = question.lower()
        taken = [False] * len(text)
        found: list[tuple[int, str]] = []
        for phrase, words in self.entries:
            for m in re.finditer(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text):
                if not any(taken[m.start() : m.end()]):
                    taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                    found.append((m.start(), words))
        found.sort(key=lambda p: p[0])
        return " ".join(_unique_words(w for _, w in found))


@lru_cache(maxsize=4)
def load_synonyms(extra: str = "") -> Synonyms:
    """The shipped everyday-English -> spec-words list, plus a team's (SEARCH_SYNONYMS)."""
    return Synonyms(_entries(SHIPPED_EN, extra, "SEARCH_SYNONYMS", _english_key, "phrase|phrases<TAB>spec words"))
