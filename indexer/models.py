"""Plain data shared by parser, chunker, stores and search."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# 3GPP's ASN.1 headings start with a dash and a tab: "–<TAB>VarMeasReportList".
_LEAD_DASH_RE = re.compile(r"^[\s\u2013\u2014\-]+")
_RULE_RE = re.compile(r"^\|(?:-+\|)+\s*$")
# ASN.1 (3GPP's message and IE definitions): code that is token-dense for a transformer
# (every camelCase name splits into many pieces) and says little in words; the keyword
# index still holds every identifier in it.
_ASN1_START_RE = re.compile(r"--\s*ASN1START")
_ASN1_RE = re.compile(r"::=|\b(?:SEQUENCE|OPTIONAL|ENUMERATED|CHOICE)\b")
# How many times a chunk's title counts in the keyword index. 3 vs 1 on the golden set
# (hash-ngram-768 run, same day): keyword MRR 0.399 -> 0.426, hybrid MRR 0.479 -> 0.484.
TITLE_WEIGHT = 3


def cite_label(number: str, title: str, parent: str = "") -> str:
    """How a section is cited: its number; an unnumbered one under its nearest numbered
    ancestor ("7.4 › VarMeasReportList"); a heading with neither by its title."""
    if number:
        return number
    name = _LEAD_DASH_RE.sub("", title).strip()
    return f"{parent} › {name}" if parent and name else name


@dataclass
class Table:
    """A table with merged cells already expanded: every row reads on its own."""

    rows: list[list[str]]
    header_rows: int = 1
    # A line said before the table, and before every piece of it when split:
    # "(from image, OCR)" for a table read from a picture.
    note: str = ""

    def to_markdown(self, rows: list[list[str]] | None = None) -> str:
        body = self.rows if rows is None else rows
        if not body:
            return ""
        if self.note:
            return f"{self.note}\n{Table(rows=body).to_markdown()}"
        width = max(len(r) for r in body)

        def line(r: list[str]) -> str:
            cells = [c.replace("|", "\\|").replace("\n", " ") for c in r] + [""] * (width - len(r))
            return "| " + " | ".join(cells) + " |"

        out = [line(body[0]), "|" + "---|" * width]
        out += [line(r) for r in body[1:]]
        return "\n".join(out)


@dataclass
class Section:
    number: str
    title: str
    level: int
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    req_ids: list[str] = field(default_factory=list)
    # Paragraph texts and tables in document order; the chunker splits on these so
    # that a table is cut between rows, never inside one.
    blocks: list[str | Table] = field(default_factory=list)
    # Number of the nearest numbered ancestor (set for unnumbered headings only).
    parent: str = ""

    @property
    def cite(self) -> str:
        return cite_label(self.number, self.title, self.parent)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"number": self.number, "title": self.title, "level": self.level, "text": self.text}
        if not self.number and self.parent:
            d["cite"] = self.cite  # the contract's shape, plus where to find it: "7.4 › VarMeasReportList"
        return d


@dataclass
class Chunk:
    doc: str
    section: str
    title: str
    text: str
    breadcrumb: list[str] = field(default_factory=list)
    ordinal: int = 0
    req_ids: list[str] = field(default_factory=list)
    level: int = 0

    @property
    def chunk_id(self) -> str:
        return f"{self.doc}::{self.ordinal}"

    def embed_text(self) -> str:
        # The heading path goes into the embedded text so that a chunk deep in a
        # section still matches questions that name its parent topics.
        head = " > ".join([*self.breadcrumb, f"{self.section} {self.title}".strip()])
        return f"{head}\n{self.text}"

    def keyword_text(self) -> str:
        """What the full-text index reads. The heading counts more than one body word:
        the title (and an ASN.1 heading's bare name) is repeated TITLE_WEIGHT times, so
        a question that names a section's topic finds the section, not every paragraph
        that mentions the topic once."""
        title = _LEAD_DASH_RE.sub("", self.title).strip()
        head = " ".join([title] * TITLE_WEIGHT)
        return f"{self.section} {head} {' '.join(self.breadcrumb)} {' '.join(self.req_ids)}\n{self.text}"

    def passage_text(self, max_chars: int = 0) -> str:
        """What a transformer embedder reads: the last two parent headings, the title and
        the first sentences, cut at a word near `max_chars` (0: the whole embed_text).

        A transformer's cost grows with its input, and the head of a chunk carries most
        of its topic; the keyword side still sees every word.
        """
        if max_chars <= 0:
            return self.embed_text()
        title = _LEAD_DASH_RE.sub("", self.title).strip()
        head = " > ".join([*self.breadcrumb[-2:], f"{self.section} {title}".strip()])
        # Markdown rule rows ("|---|---|") and pipes cost tokens and say nothing.
        body = " ".join(ln.replace("|", " ") for ln in self.text.split("\n") if ln.strip() and not _RULE_RE.match(ln))
        # A definition's prose ends where its ASN.1 begins; a chunk that is all ASN.1
        # gets a third of the budget. TS 38.331: 18% fewer tokens to embed, the golden set unchanged
        # (bench/retrieval.py), and the 5-minute index budget met.
        start = _ASN1_START_RE.search(body)
        if start:
            body = body[: start.start()]
        if len(_ASN1_RE.findall(body[:max_chars])) >= 2:
            max_chars //= 3
        text = " ".join(f"{head}. {body}".split())
        if len(text) <= max_chars:
            return text
        cut = text.rfind(" ", 0, max_chars)
        return text[: cut if cut > max_chars // 2 else max_chars]


def parent_of(breadcrumb: list[str]) -> str:
    """Number of the nearest numbered ancestor in a chunk's heading path."""
    for crumb in reversed(breadcrumb):
        head = crumb.split(" ", 1)[0]
        if head[:1].isdigit() or (len(head) > 2 and head[0].isupper() and head[1] == "."):
            return head
    return ""


@dataclass
class Hit:
    doc: str
    section: str
    title: str
    text: str
    score: float
    # Set when the section has no number of its own: "7.4 › VarMeasReportList".
    cite: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(float(self.score), 4)
        if not self.cite or self.section:
            d.pop("cite")  # the contract's shape for numbered sections
        return d
