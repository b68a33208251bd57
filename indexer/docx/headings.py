"""Section numbers typed into heading text, and headings found by a bold typed number."""

from __future__ import annotations

import re

# "5.1.3.2.2.1<TAB>EMM-NULL", "4.2A General", "A.1 General", "10. Scope", "3.2.1.   Use Case".
# 3GPP inserts clauses between others with a letter on any part: "5.3.3a", "5.5a.1",
# "5.3.5.12a.1.1", "5.3.5.13b1", "5.5.1.2.5B1". One lower-case letter (so "3rd" is no
# number), or one upper-case letter, either with up to two digits after it.
# A lone letter is a number only with a dotted part ("A.1"), so "A Guide" stays a title.
_PART = r"\d{1,3}(?:[A-Za-z]\d{0,2})?"
_NUM = rf"(?:{_PART}(?:\.{_PART})*|[A-Z](?:\.{_PART})+)"
TYPED_RE = re.compile(rf"^\s*({_NUM})\.?(\t|\s+)(\S.*)$", re.S)
# Annex headings in 3GPP and ETSI specs: "Annex A (normative):<TAB>Title".
ANNEX_RE = re.compile(r"^\s*(Annex\s+[A-Z]{1,2})\b\s*(.*)$", re.S)
# Table-of-contents lines end with a tab and a page number.
_TOC_TAIL_RE = re.compile(r"\t\s*\d+\s*$")


def split_typed(text: str) -> tuple[str, str, str]:
    """(number, separator, title) of a heading's text; number is "" when none is typed."""
    m = TYPED_RE.match(text)
    if m:
        return m.group(1), m.group(2), m.group(3)
    return "", "", text


def tidy_title(text: str) -> str:
    return " ".join(text.split())


def strong_typed(number: str, sep: str) -> bool:
    """A typed number that clearly is one: dotted, or followed by a tab.

    A bare integer followed by a space ("2024 roadmap") loses to Word's own
    numbering when the paragraph has some.
    """
    return bool(number) and ("." in number or "\t" in sep)


def bold_heading(text: str, bold: bool) -> tuple[str, str, int] | None:
    """(number, title, level) for a bold paragraph that starts with a typed number."""
    if not bold or len(text) > 150 or _TOC_TAIL_RE.search(text):
        return None
    number, _sep, title = split_typed(text)
    if not number or not number[0].isdigit():
        return None
    title = tidy_title(title)
    # A sentence is not a heading: headings do not end with a full stop.
    if not title or title.endswith((".", "다.", ":")):
        return None
    return number, title, number.count(".") + 1
