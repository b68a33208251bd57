"""Typed clause numbers with letters (3GPP inserts clauses as 5.3.3a, 5.5.1.2.5B1) and
unnumbered ASN.1 headings cited under their numbered parent (§ 7.4 › VarMeasReportList)."""

from __future__ import annotations

import json
from pathlib import Path

import docx
import pytest

from indexer.docx.headings import split_typed
from indexer.docx_parser import parse_document


@pytest.mark.parametrize(
    ("text", "number", "title"),
    [
        ("5.3.3a\tForbidden PLMNs for EPS services", "5.3.3a", "Forbidden PLMNs for EPS services"),
        ("5.3.5.12a.1.1\tIP Address Release", "5.3.5.12a.1.1", "IP Address Release"),
        ("5.5.1.2.5B1\tAttach by a UE transferring", "5.5.1.2.5B1", "Attach by a UE transferring"),
        ("5.3.5.13b1\tSCG activation without SN message", "5.3.5.13b1", "SCG activation without SN message"),
        ("5.5a Logged Measurements", "5.5a", "Logged Measurements"),
        ("4.2A\tEquivalent PLMNs list", "4.2A", "Equivalent PLMNs list"),
        ("A.1.2a\tExample", "A.1.2a", "Example"),
    ],
)
def test_lettered_numbers_are_numbers(text: str, number: str, title: str) -> None:
    got = split_typed(text)
    assert (got[0], got[2]) == (number, title)


@pytest.mark.parametrize("text", ["3rd Generation Partnership", "A Guide to specs", "5ms timers", "2024년 계획"])
def test_words_are_not_numbers(text: str) -> None:
    assert split_typed(text)[0] == ""


def make_lettered(path: Path) -> Path:
    d = docx.Document()
    d.add_heading("5\tProcedures", 1)
    d.add_heading("5.3.3a\tForbidden PLMNs", 3)
    d.add_paragraph("The UE keeps a list of forbidden PLMNs.")
    d.add_heading("7\tVariables and constants", 1)
    d.add_heading("7.4\tUE variables", 2)
    d.add_heading("–\tVarMeasReportList", 4)
    d.add_paragraph("The UE variable VarMeasReportList includes information about the measurements.")
    d.add_heading("Unnumbered top", 1)
    d.add_paragraph("Text.")
    d.save(str(path))
    return path


def test_lettered_heading_parsed_and_asn1_heading_cited_under_parent(tmp_path: Path) -> None:
    secs = parse_document(make_lettered(tmp_path / "l.docx")).sections
    got = {s.title: s for s in secs}
    assert got["Forbidden PLMNs"].number == "5.3.3a"
    var = got["– VarMeasReportList"]
    assert var.number == "" and var.cite == "7.4 › VarMeasReportList"
    assert got["UE variables"].cite == "7.4"
    assert got["Unnumbered top"].cite == "Unnumbered top"


def test_sections_json_keeps_its_shape_and_adds_cite_only_where_unnumbered(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    r = run_cli("sections", str(make_lettered(tmp_path / "l.docx")), "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    data = {s["title"]: s for s in json.loads(r.stdout)}
    assert set(data["Forbidden PLMNs"]) == {"number", "title", "level", "text"}
    assert data["Forbidden PLMNs"]["number"] == "5.3.3a"
    assert data["– VarMeasReportList"]["number"] == ""
    assert data["– VarMeasReportList"]["cite"] == "7.4 › VarMeasReportList"


def test_oracle_compares_the_number_field() -> None:
    from bench.oracle import heading_matches

    lines = ["Contents", "5.3.3a Forbidden PLMNs", "Body.", "– MIB", "4.2A Equivalent PLMNs list", "A.1 General"]
    ok = [("5.3.3a", "Forbidden PLMNs"), ("", "– MIB"), ("4.2A", "Equivalent PLMNs list"), ("A.1", "General")]
    assert heading_matches(ok, lines) == (4, [])
    # Same rendered text, but the number stayed in the title: a miss.
    hit, misses = heading_matches([("", "5.3.3a Forbidden PLMNs")], lines)
    assert hit == 0 and "shown '5.3.3a'" in misses[0]


def test_search_hits_cite_lettered_and_asn1_sections(tmp_path: Path) -> None:
    from indexer.pipeline import index_paths
    from indexer.search import search
    from indexer.store.lance import LanceIndex

    idx = LanceIndex(tmp_path / "lancedb", embedder_name="hash-ngram-384")
    reports = index_paths([make_lettered(tmp_path / "l.docx")], index=idx, progress=False)
    assert reports[0].status == "indexed", reports[0].error
    hits = search("what does §5.3.3a say?", k=3, index=idx)
    assert (hits[0].section, hits[0].score) == ("5.3.3a", 1.0)
    assert "cite" not in hits[0].to_json()
    hit = next(h for h in search("VarMeasReportList", k=5, index=idx) if "VarMeasReportList" in h.title)
    assert hit.to_json()["section"] == "" and hit.to_json()["cite"] == "7.4 › VarMeasReportList"
