"""The embedded index's in-memory read path (indexer/store/resident.py) against
LanceDB's own queries on the same table, and what an open reader sees after a write."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from indexer.embedder import get_embedder
from indexer.models import Chunk
from indexer.search import search
from indexer.store import resident
from indexer.store.lance import LanceIndex

EMBEDDER = "hash-ngram-384"
LONG = "x" * 45  # over LanceDB's 40-byte token limit: dropped from documents and queries


def chunk(doc: str, ordinal: int, section: str, title: str, text: str, req_ids: list[str] | None = None) -> Chunk:
    return Chunk(doc=doc, section=section, title=title, text=text, ordinal=ordinal, req_ids=req_ids or [])


B = "brake.docx"


DOCS = {
    "brake.docx": [
        chunk(B, 0, "2.1", "Supply Voltage", "The EBC shall operate from 9 V to 16 V.", ["REQ-BRK-0010"]),
        chunk(B, 1, "3.1", "Brake Pedal", "REQ-BRK-0042: pedal force shall not exceed 500 N.", ["REQ-BRK-0042"]),
        chunk(B, 2, "4.2", "비밀번호 보호", "진단 세션 진입 시 비밀번호를 요구해야 한다. 비밀번호 변경."),
        chunk(B, 3, "5.3.7", "Timer T3410", f"T3410 is started when the UE sends ATTACH REQUEST. {LONG}"),
        chunk(B, 4, "5.3.7", "Timer T3410", "On expiry of T3410 the UE shall abort the attach attach attach."),
        chunk(B, 5, "6", "Brake lamp", "The brake lamp lights when the brake pedal is pressed; brake fluid."),
    ],
    "nas.docx": [
        chunk("nas.docx", 0, "5.3.7", "Handling of the T3410", "NAS timer T3410 guards the attach; 보안 모드."),
        chunk("nas.docx", 1, "8.2.2.1", "Message type", "Attach accept message identity.", ["NAS-7"]),
        chunk("nas.docx", 2, "8.2.2.2", "Message type", "Security mode command: the MME starts ciphering."),
    ],
}
QUERIES = [
    "T3410",
    "attach attach",  # a term named twice counts twice, as in LanceDB
    "brake pedal force",
    "비밀번호를 바꾸려면?",
    f"T3410 {LONG}",
    "security mode command ciphering",
    "nothing matches zzz",
]


def vectors(chunks: list[Chunk]) -> np.ndarray:
    return get_embedder(EMBEDDER).embed([c.embed_text() for c in chunks])


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "lancedb"
    writer = LanceIndex(p, embedder_name=EMBEDDER)
    for doc, chunks in DOCS.items():
        writer.upsert_document(doc, "h1", chunks, vectors(chunks))
    return p


def ranked(chunks) -> list[tuple[str, int, float]]:
    return [(c.doc, c.ordinal, round(c.score, 4)) for c in chunks]


def by_score(chunks) -> list[tuple[float, str, int]]:
    # LanceDB returns equal BM25 scores in no set order: compare as (score, chunk) sets per score.
    return sorted((round(c.score, 4), c.doc, c.ordinal) for c in chunks)


@pytest.mark.parametrize("doc", [None, "brake.docx"])
def test_resident_reads_answer_like_lancedb_queries(path: Path, doc: str | None) -> None:
    mine = LanceIndex(path, embedder_name=EMBEDDER)
    theirs = LanceIndex(path, embedder_name=EMBEDDER, resident=False)
    assert mine.resident and not theirs.resident
    emb = get_embedder(EMBEDDER)
    for q in QUERIES:
        assert by_score(mine.keyword_search(q, 20, doc=doc)) == by_score(theirs.keyword_search(q, 20, doc=doc)), q
        v = emb.embed_query([q])[0]
        assert ranked(mine.vector_search(v, 5, doc=doc)) == ranked(theirs.vector_search(v, 5, doc=doc)), q
        assert {(c.doc, c.ordinal) for c in mine.hybrid_search(q, v, 20, doc=doc)} == {
            (c.doc, c.ordinal) for c in theirs.hybrid_search(q, v, 20, doc=doc)
        }, q
    for sections, reqs in ((["5.3.7"], []), ([], ["req-brk-0042", "nas-7"]), (["9.9"], ["NOPE-1"])):
        mine_exact = mine.exact_lookup(sections, reqs, doc=doc)
        assert ranked(mine_exact) == ranked(theirs.exact_lookup(sections, reqs, doc=doc)), (sections, reqs)
    hit = mine.keyword_search("pedal", 1, doc=doc)[0]
    assert (hit.doc, hit.section, hit.title, hit.req_ids) == ("brake.docx", "3.1", "Brake Pedal", ["REQ-BRK-0042"])
    assert mine.keyword_search(LONG, 5) == theirs.keyword_search(LONG, 5) == []
    assert mine.keyword_search("pedal", 5, doc="no-such.docx") == mine.vector_search(v, 5, doc="no-such.docx") == []


def test_an_open_reader_sees_each_write(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The folder's mtime is trusted at once here (as it is for an index last written
    # more than RACY_NS ago), so the reload must come from the write changing it.
    monkeypatch.setattr(resident, "RACY_NS", 0)
    reader = LanceIndex(path, embedder_name=EMBEDDER)
    writer = LanceIndex(path, embedder_name=EMBEDDER)
    assert [c.ordinal for c in reader.keyword_search("pedal", 5)] == [1, 5]
    new = [chunk("brake.docx", 0, "2.1", "Supply Voltage", "The EBC shall operate from 10 V to 15 V.")]
    writer.upsert_document("brake.docx", "h2", new, vectors(new))
    assert reader.keyword_search("pedal", 5) == []  # the old chunks are gone
    assert [c.text for c in reader.keyword_search("EBC operate", 5)] == [new[0].text]
    assert {c.doc for c in reader.vector_search(vectors(new)[0], 10)} == {"brake.docx", "nas.docx"}
    assert reader.exact_lookup(["3.1"], []) == []
    writer.delete_document("nas.docx")
    assert {c.doc for c in reader.vector_search(vectors(new)[0], 10)} == {"brake.docx"}
    # Only the one chunk left: no § 5.3.7 of either version or document.
    assert [(h.doc, h.section) for h in search("5.3.7 T3410", k=3, index=reader)] == [("brake.docx", "2.1")]
    writer.delete_document("brake.docx")  # nothing left
    assert reader.keyword_search("EBC", 5) == reader.vector_search(vectors(new)[0], 5) == []
    assert reader.exact_lookup(["2.1"], []) == [] and search("EBC 2.1", k=3, index=reader) == []


def test_indexes_opened_per_search_share_one_snapshot(path: Path) -> None:
    # search() opens an index per call (workers/retrieve.py): the table is loaded once per process.
    first = LanceIndex(path, embedder_name=EMBEDDER)._snapshot()
    assert first is not None and first.n == sum(len(c) for c in DOCS.values())
    assert LanceIndex(path, embedder_name=EMBEDDER)._snapshot() is first


def test_search_resident_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexer.store import open_index
    from specbot.settings import reset_settings

    monkeypatch.setenv("SPECBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EMBEDDING_MODEL", EMBEDDER)
    reset_settings()
    assert getattr(open_index(), "resident", None) is True
    monkeypatch.setenv("SEARCH_RESIDENT", "false")
    reset_settings()
    assert getattr(open_index(), "resident", None) is False


def test_an_index_built_again_in_the_same_folder_is_not_mistaken_for_the_old_one(tmp_path: Path) -> None:
    # Wiping the index folder and indexing again reaches the same version numbers:
    # a reader must load the new table, not keep the old one of the same version.
    path = tmp_path / "lancedb"

    def build(text: str) -> int:
        c = [chunk("a.docx", 0, "1", "Scope", text)]
        LanceIndex(path, embedder_name=EMBEDDER).upsert_document("a.docx", "h", c, vectors(c))
        return int(LanceIndex(path, embedder_name=EMBEDDER).db.open_table("chunks").version)

    first = build("The brake controller is in scope.")
    reader = LanceIndex(path, embedder_name=EMBEDDER)
    assert [c.text for c in reader.keyword_search("scope", 5)] == ["The brake controller is in scope."]
    shutil.rmtree(path)
    assert build("The lamp controller is in scope.") == first
    assert [c.text for c in reader.keyword_search("scope", 5)] == ["The lamp controller is in scope."]


def test_a_commit_in_the_clock_tick_of_the_last_check_is_not_missed(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel stamps the _versions folder with a coarse clock: a commit in the same
    # tick as a reader's check leaves its mtime unchanged. Simulated by putting the
    # mtime back after the write; the reader must still load the new version.
    versions = path / "chunks.lance" / "_versions"
    tick = time.time_ns() - 60 * 10**9
    clock = [tick + 10**6]  # the reader checks 1 ms after the last commit
    monkeypatch.setattr(resident, "now_ns", lambda: clock[0])
    os.utime(versions, ns=(tick, tick))
    reader = LanceIndex(path, embedder_name=EMBEDDER)
    assert [c.ordinal for c in reader.keyword_search("pedal", 5)] == [1, 5]
    new = [chunk(B, 0, "2.1", "Supply Voltage", "The EBC shall operate from 10 V to 15 V.")]
    LanceIndex(path, embedder_name=EMBEDDER).upsert_document(B, "h2", new, vectors(new))
    os.utime(versions, ns=(tick, tick))
    clock[0] = tick + 60 * 10**9  # a minute later: the mtime looks settled
    assert reader.keyword_search("pedal", 5) == []
    assert [c.text for c in reader.keyword_search("EBC operate", 5)] == [new[0].text]
