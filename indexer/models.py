"""Plain data shared by parser, chunker, stores and search."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "level": self.level, "text": self.text}


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


@dataclass
class Hit:
    doc: str
    section: str
    title: str
    text: str
    score: float

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(float(self.score), 4)
        return d
