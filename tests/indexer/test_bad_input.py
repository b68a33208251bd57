"""Bad input: each file is reported by name with a reason, the others are still
indexed, and nothing is half-written (a failed file leaves the index as it was)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from indexer.docx.package import DocxPackage, Limits
from indexer.errors import (
    BrokenDocument,
    EmptyDocument,
    EncryptedFile,
    LegacyWordFile,
    UnsafeArchive,
    UnsupportedFile,
)
from indexer.pipeline import index_paths
from indexer.store import open_index
from tests import fixtures_docx as fx

try:  # builds the real encrypted fixture; a dev dependency
    import msoffcrypto  # noqa: F401

    HAVE_MSOFFCRYPTO = True
except ImportError:
    HAVE_MSOFFCRYPTO = False
needs_msoffcrypto = pytest.mark.skipif(not HAVE_MSOFFCRYPTO, reason="msoffcrypto-tool not installed")


@pytest.fixture
def bad_folder(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    fx.make_numbered(d / "good_numbered.docx")
    (d / "not_a_zip.docx").write_bytes(b"%PDF-1.7 this is really a PDF")
    if HAVE_MSOFFCRYPTO:
        fx.make_encrypted(d / "locked.docx")
    fx.make_legacy_doc(d / "old_format.doc")
    fx.make_zip_bomb(d / "bomb.docx")
    (d / "zero.docx").write_bytes(b"")
    fx.make_empty_docx(d / "blank.docx")
    fx.make_broken_xml(d / "broken.docx")
    fx.make_tables_doc(d / "good_tables.docx", long_rows=5)
    (d / "~$good_numbered.docx").write_bytes(b"\x00" * 162)  # Word's lock file: not a document
    return d


EXPECTED_REASONS = {
    "not_a_zip.docx": "not a zip",
    "locked.docx": "password-protected",
    "old_format.doc": "legacy Word 97-2003",
    "bomb.docx": "zip bomb",
    "zero.docx": "empty file",
    "blank.docx": "no text",
    "broken.docx": "word/document.xml is not well-formed XML",
}


def test_each_bad_file_reported_and_good_ones_indexed(bad_folder: Path) -> None:
    reports = {Path(r.path).name: r for r in index_paths([bad_folder], progress=False)}
    assert "~$good_numbered.docx" not in reports
    for name, reason in EXPECTED_REASONS.items():
        if name == "locked.docx" and not HAVE_MSOFFCRYPTO:
            continue
        assert reports[name].status == "failed", name
        assert reason in reports[name].error, (name, reports[name].error)
        assert "Traceback" not in reports[name].error
    for good in ("good_numbered.docx", "good_tables.docx"):
        assert reports[good].status == "indexed" and reports[good].chunks > 0, reports[good].error
    docs = {d.doc for d in open_index().list_documents()}
    assert docs == {"good_numbered.docx", "good_tables.docx"}


def test_failed_reindex_keeps_previous_version(tmp_path: Path) -> None:
    spec = fx.make_numbered(tmp_path / "spec.docx")
    (first,) = index_paths([spec], progress=False)
    assert first.status == "indexed"
    fx.make_broken_xml(tmp_path / "broken.docx")
    shutil.copy(tmp_path / "broken.docx", spec)  # the file is damaged in place
    (second,) = index_paths([spec], progress=False)
    assert second.status == "failed" and "not well-formed" in second.error
    (info,) = open_index().list_documents()
    assert info.doc == "spec.docx" and info.chunks == first.chunks  # old chunks still there


@pytest.mark.parametrize(
    ("maker", "error", "suffix"),
    [
        pytest.param(fx.make_encrypted, EncryptedFile, ".docx", marks=needs_msoffcrypto),
        (fx.make_legacy_doc, LegacyWordFile, ".doc"),
        (fx.make_zip_bomb, UnsafeArchive, ".docx"),
        (fx.make_broken_xml, BrokenDocument, ".docx"),
        (fx.make_empty_docx, EmptyDocument, ".docx"),
    ],
)
def test_error_classes(tmp_path: Path, maker, error: type, suffix: str) -> None:
    from indexer.docx_parser import parse_document

    p = maker(tmp_path / f"f{suffix}")
    with pytest.raises(error):
        parse_document(p)


def test_legacy_doc_fixture_is_a_real_compound_file(tmp_path: Path) -> None:
    olefile = pytest.importorskip("olefile")
    p = fx.make_legacy_doc(tmp_path / "old.doc")
    assert olefile.isOleFile(str(p))
    assert olefile.OleFileIO(str(p)).listdir() == [["WordDocument"]]
    if HAVE_MSOFFCRYPTO:
        enc = fx.make_encrypted(tmp_path / "enc.docx")
        assert ["EncryptedPackage"] in olefile.OleFileIO(str(enc)).listdir()


def test_total_size_limit_before_any_xml_is_read(tmp_path: Path) -> None:
    p = fx.make_tables_doc(tmp_path / "t.docx", long_rows=5)
    with pytest.raises(UnsafeArchive, match="expand"):
        DocxPackage(p, Limits(total_bytes=10_000))
    with pytest.raises(UnsafeArchive, match="part word/document.xml"):
        DocxPackage(p, Limits(part_bytes=5_000))


def test_broken_styles_part_named(tmp_path: Path) -> None:
    from indexer.docx_parser import parse_document

    src = fx.make_plain_docx(tmp_path / "src.docx")
    bad = fx.rewrite_part(src, tmp_path / "bad.docx", "word/styles.xml", b"<w:styles><oops")
    with pytest.raises(BrokenDocument, match="word/styles.xml"):
        parse_document(bad)


def test_zip_without_word_document(tmp_path: Path) -> None:
    from indexer.docx_parser import parse_document

    p = tmp_path / "x.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(BrokenDocument, match="word/document.xml"):
        parse_document(p)
    with pytest.raises(UnsupportedFile, match="no such file"):
        parse_document(tmp_path / "missing.docx")


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    """A billion-laughs style DOCTYPE must not expand into the index."""
    from indexer.docx_parser import parse_document

    src = fx.make_plain_docx(tmp_path / "src.docx", text="PLACEHOLDER")
    with zipfile.ZipFile(src) as z:
        xml = z.read("word/document.xml").decode()
    doctype = '<!DOCTYPE d [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    xml = xml.replace("?>", "?>" + doctype, 1).replace("PLACEHOLDER", "&b;")
    p = fx.rewrite_part(src, tmp_path / "ent.docx", "word/document.xml", xml.encode())
    try:
        secs = parse_document(p).sections
    except BrokenDocument:
        return  # refusing the part is also fine
    assert "AAAAAAAAAA" not in "\n".join(s.text for s in secs)


def test_part_larger_than_its_header_says_is_stopped_while_reading(tmp_path: Path) -> None:
    """A real zip whose headers lie: they declare 600 KB (a harmless size and ratio) for a
    document.xml that really expands to 60 MB. No check is switched off: the reader must
    stop at the declared size and report the part instead of expanding it."""
    from indexer.docx_parser import parse_document

    p = fx.make_lying_zip(tmp_path / "liar.docx", real_mb=60, declared_bytes=600_000)
    with zipfile.ZipFile(p) as z:  # the lie is in the file itself
        info = z.getinfo("word/document.xml")
        assert info.file_size == 600_000 and info.compress_size < 600_000 // 2
    read: dict[str, int] = {}
    real_open_part = DocxPackage.open_part

    from contextlib import contextmanager

    @contextmanager
    def counting(self, name):  # type: ignore[no-untyped-def]
        with real_open_part(self, name) as f:
            orig = f.read

            def rd(n=-1):  # type: ignore[no-untyped-def]
                data = orig(n)
                read[name] = read.get(name, 0) + len(data)
                return data

            f.read = rd  # type: ignore[method-assign]
            yield f

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DocxPackage, "open_part", counting)
        with pytest.raises((UnsafeArchive, BrokenDocument), match="word/document.xml"):
            parse_document(p)
    # Never more than the declared size comes out of the part (60 MB are in it).
    assert 0 < read["word/document.xml"] <= 600_000
    (rep,) = index_paths([p], progress=False)
    assert rep.status == "failed" and "word/document.xml" in rep.error


@pytest.mark.parametrize(
    ("opening", "closing", "n"),
    [
        ("<w:sdt><w:sdtContent>", "</w:sdtContent></w:sdt>", 750),  # content controls, 1,500 levels
        ("<w:tbl><w:tr><w:tc>", "<w:p/></w:tc></w:tr></w:tbl>", 500),  # tables in tables, 1,500 levels
        ("<w:ins w:id='1' w:author='a'>", "</w:ins>", 1500),
    ],
)
def test_deeply_nested_xml_is_a_clear_error(tmp_path: Path, opening: str, closing: str, n: int) -> None:
    from indexer.docx_parser import parse_document

    src = fx.make_plain_docx(tmp_path / "src.docx", text="PLACEHOLDER")
    with zipfile.ZipFile(src) as z:
        xml = z.read("word/document.xml").decode()
    deep = opening * n + "<w:p><w:r><w:t>deep</w:t></w:r></w:p>" + closing * n
    p = fx.rewrite_part(src, tmp_path / "deep.docx", "word/document.xml", xml.replace("<w:body>", "<w:body>" + deep))
    with pytest.raises(BrokenDocument, match=r"word/document.xml .*nested more than \d+ levels"):
        parse_document(p)
    good = fx.make_numbered(tmp_path / "good.docx")
    reports = {Path(r.path).name: r for r in index_paths([p, good], progress=False)}
    assert reports["deep.docx"].status == "failed" and "nested" in reports["deep.docx"].error
    assert reports["good.docx"].status == "indexed"


def test_deeply_nested_styles_part_is_a_clear_error(tmp_path: Path) -> None:
    from indexer.docx_parser import parse_document

    src = fx.make_plain_docx(tmp_path / "src.docx")
    deep = f"<w:styles {fx.W_NS}>" + "<w:x>" * 1500 + "</w:x>" * 1500 + "</w:styles>"
    p = fx.rewrite_part(src, tmp_path / "deep.docx", "word/styles.xml", deep.encode())
    with pytest.raises(BrokenDocument, match=r"word/styles.xml .*nested more than"):
        parse_document(p)


def test_sections_cli_on_deep_xml_is_one_error_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    src = fx.make_plain_docx(tmp_path / "src.docx", text="PLACEHOLDER")
    with zipfile.ZipFile(src) as z:
        xml = z.read("word/document.xml").decode()
    deep = "<w:sdt><w:sdtContent>" * 750 + "<w:p/>" + "</w:sdtContent></w:sdt>" * 750
    p = fx.rewrite_part(src, tmp_path / "deep.docx", "word/document.xml", xml.replace("<w:body>", "<w:body>" + deep))
    r = run_cli("sections", str(p), "--json", timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nested more than" in lines[0], r.stderr


def test_corrupted_compressed_data(tmp_path: Path) -> None:
    from indexer.docx_parser import parse_document

    p = fx.make_tables_doc(tmp_path / "t.docx", long_rows=40)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("word/document.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 200, start + 260):
        raw[i] ^= 0x5A
    p.write_bytes(bytes(raw))
    with pytest.raises(BrokenDocument, match="word/document.xml"):
        parse_document(p)
