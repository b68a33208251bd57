"""Language-aware terms for keyword search and the hashing embedder.

Korean attaches particles to nouns (`비밀번호를`), so whole-word matching misses
`비밀번호`. Hangul runs are therefore also split into character bigrams, which
match across particles without needing a morphological analyser.
"""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[0-9A-Za-z]+(?:[.\-_][0-9A-Za-z]+)*|[\uac00-\ud7a3]+|[\u3040-\u30ff\u4e00-\u9fff]+")
HANGUL_RE = re.compile(r"[\uac00-\ud7a3]+")


def terms(text: str) -> list[str]:
    out: list[str] = []
    for w in WORD_RE.findall(text.lower()):
        if HANGUL_RE.fullmatch(w):
            out.append(w)
            if len(w) > 2:
                out.extend(w[i : i + 2] for i in range(len(w) - 1))
        else:
            out.append(w)
            # Dotted numbers and IDs are also indexed by their parts.
            if "." in w or "-" in w:
                out.extend(p for p in re.split(r"[.\-_]", w) if p)
    return out


def search_text(text: str) -> str:
    """Whitespace-joined terms: what the full-text index stores."""
    return " ".join(terms(text))
