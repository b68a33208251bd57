"""Chunks: never cross a section, carry doc/section/title/breadcrumb, stay within the
token budget, repeat a split table's header row, and keep requirement IDs per chunk."""

from __future__ import annotations

from pathlib import Path

from indexer.chunker import approx_tokens, chunk_sections
from indexer.docx_parser import parse_document
from indexer.models import Section, Table
from tests import fixtures_docx as fx


def test_split_table_repeats_header_in_every_chunk(tmp_path: Path) -> None:
    secs = parse_document(fx.make_tables_doc(tmp_path / "t.docx", long_rows=60)).sections
    chunks = [c for c in chunk_sections("t.docx", secs, max_tokens=200) if c.title == "Requirements table"]
    assert len(chunks) > 3
    for c in chunks:
        lines = c.text.split("\n")
        assert lines[0] == "| ID | Requirement | Priority |" and lines[1] == "|---|---|---|"
        assert approx_tokens(c.embed_text()) <= 200
    # Every row is in exactly one chunk, and each chunk's IDs are the rows it holds.
    all_ids = [rid for c in chunks for rid in c.req_ids]
    assert all_ids == [f"REQ-BRK-{i:04d}" for i in range(1, 61)]
    holder = next(c for c in chunks if "REQ-BRK-0042" in c.req_ids)
    assert "| REQ-BRK-0042 | The brake controller shall report fault code 42" in holder.text


def test_chunks_never_cross_sections_and_carry_breadcrumbs(tmp_path: Path) -> None:
    secs = parse_document(fx.make_numbered(tmp_path / "n.docx")).sections
    chunks = chunk_sections("n.docx", secs)
    details = next(c for c in chunks if c.title == "Details")
    assert details.doc == "n.docx" and details.section == "1.2.1" and details.level == 3
    assert details.breadcrumb == ["1 Introduction", "1.2 Scope"]
    assert details.embed_text().startswith("1 Introduction > 1.2 Scope > 1.2.1 Details\n")
    # A heading without body text is still one chunk, so it can be found and cited.
    assert [c.section for c in chunks].count("1.2") == 1
    intro = next(c for c in chunks if c.section == "1")
    assert intro.text == "Intro text." and "Purpose" not in intro.text


def test_long_paragraph_is_cut_within_budget() -> None:
    sentence = "The vehicle shall hold the brake pressure while the driver keeps the pedal pressed. "
    s = Section(number="8.2.2.1", title="Hold", level=4, blocks=[sentence * 80])
    s.text = s.blocks[0]
    chunks = chunk_sections("x.docx", [s], max_tokens=120)
    assert len(chunks) > 5
    assert all(approx_tokens(c.embed_text()) <= 120 for c in chunks)
    assert all(c.section == "8.2.2.1" for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == (sentence * 80).replace(" ", "")


def test_korean_text_budget_counts_syllables() -> None:
    text = "비밀번호는 8자 이상이어야 한다. " * 100
    s = Section(number="3.1", title="보안", level=2, blocks=[text], text=text)
    chunks = chunk_sections("ko.docx", [s], max_tokens=100)
    assert len(chunks) >= 15 and all(approx_tokens(c.embed_text()) <= 100 for c in chunks)


def test_table_that_fits_stays_whole_with_its_text() -> None:
    t = Table(rows=[["ID", "Name"], ["SSR9", "Restart"]])
    s = Section(number="2", title="Reqs", level=1, blocks=["Before.", t, "After."])
    (c,) = chunk_sections("x.docx", [s])
    assert c.text == "Before.\n| ID | Name |\n|---|---|\n| SSR9 | Restart |\nAfter."
    assert c.req_ids == ["SSR9"]


def test_real_spec_chunks_stay_in_budget(specs_dir: Path) -> None:
    secs = parse_document(specs_dir / "nasa_cfe_requirements.docx").sections
    chunks = chunk_sections("nasa_cfe_requirements.docx", secs)
    assert max(approx_tokens(c.embed_text()) for c in chunks) <= 350
    numbers = {s.number for s in secs}
    assert {c.section for c in chunks} <= numbers
    assert any("SSR9" in c.req_ids for c in chunks)
