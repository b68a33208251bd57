"""OCR of pictures in Word specs: real Tesseract (Debian's tesseract-ocr, eng + kor) on
pictures drawn here with PIL. Skips when Tesseract is not installed (`make test`
installs it when run as root)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.ocr import OcrConfig
from indexer.ocr.images import read_image
from tests.ocr_fixtures import (
    animated_gif,
    corrupt_png,
    emf_bytes,
    has_korean_font,
    huge_png,
    make_docx,
    png_bytes,
    render_logo,
    render_paragraph,
    render_table,
    scan_like,
    truncated_png,
)

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")
needs_korean = pytest.mark.skipif(not has_korean_font(), reason="fonts-nanum is not installed")
CFG = OcrConfig(workers=1)

PINOUT = [
    ["Pin", "Signal 신호", "Signal 신호", "Voltage"],
    ["Pin", "Name", "이름", "Voltage"],
    ["1", "CAN_H", "통신", "5V"],
    ["2", "VBAT", "전원", "12V"],
    ["3", "GND", "접지", "0V"],
]
# Pin and Voltage span two header rows; "Signal 신호" spans two columns.
PINOUT_MERGES = [(0, 0, 1, 0), (0, 1, 0, 2), (0, 3, 1, 3)]


@needs_tesseract
@needs_korean
def test_mixed_korean_english_pinout_cells_in_right_rows_and_columns() -> None:
    img = render_table(PINOUT, merges=PINOUT_MERGES)  # a merged area shows its text once
    r = read_image(png_bytes(img), "pinout.png", CFG)
    assert r.status == "table", r
    # Merged cells come back expanded, as the parser expands Word's gridSpan/vMerge.
    assert r.rows == PINOUT


@needs_tesseract
def test_scan_like_table_keeps_its_grid() -> None:
    rows = [["Pin", "Signal", "Note"], ["1", "KL30", "Fused 10A"], ["2", "WAKE", "Active low"]]
    rows.append(["3", "HALL_A", "Shielded"])
    img = scan_like(render_table(rows), angle=1.5, seed=3)
    r = read_image(png_bytes(img), "scan.png", CFG)
    assert r.status == "table", r
    assert len(r.rows) == 4 and all(len(row) == 3 for row in r.rows)
    exact = sum(a == b for ra, rb in zip(r.rows, rows, strict=True) for a, b in zip(ra, rb, strict=True))
    assert exact >= 10, r.rows  # of 12; the bench measures accuracy over many tables


SCANNED_KO = [
    ["핀", "신호", "전압", "비고"],
    ["1", "통신", "3.3V", "사용 안 함"],
    ["2", "CAN_H", "5V", "Twisted pair"],
    ["3", "접지", "12V", "보호 회로"],
    ["4", "KL30", "24V", "필수"],
    ["5", "경고등", "3.3V", "Fused 10A"],
]


@needs_tesseract
@needs_korean
def test_noisy_low_resolution_scan_of_mixed_table_reads_cell_by_cell() -> None:
    # A fax-like copy: tilted, blurred, at 75% size (cap height ~12 px), 2.5% specks on
    # grey paper. Specks must not turn into punctuation, nor hide the dot of "3.3V".
    img = scan_like(render_table(SCANNED_KO), angle=-1.7, scale=0.75, noise=0.025, seed=11)
    r = read_image(png_bytes(img), "fax.png", CFG)
    assert r.status == "table", r
    exact = sum(a == b for ra, rb in zip(r.rows, SCANNED_KO, strict=True) for a, b in zip(ra, rb, strict=True))
    assert exact >= 22, r.rows  # of 24


@needs_tesseract
def test_caption_outside_the_grid_is_read_as_text_beside_the_cells() -> None:
    from PIL import Image, ImageDraw

    from tests.ocr_fixtures import font

    rows = [["Pin", "Signal"], ["1", "KL30"], ["2", "WAKE"]]
    table = render_table(rows)
    img = Image.new("L", (table.width + 200, table.height + 120), 255)
    img.paste(table, (0, 50))
    d = ImageDraw.Draw(img)
    d.text((14, 12), "Table 7 Connector X2 pinout", font=font(22, korean=False), fill=0)
    d.text((14, table.height + 70), "Note: seen from the mating side", font=font(22, korean=False), fill=0)
    r = read_image(png_bytes(img), "captioned.png", CFG)
    assert r.status == "table" and r.rows == rows, r
    assert r.text == "Table 7 Connector X2 pinout\nNote: seen from the mating side"


@needs_tesseract
def test_caption_of_a_table_picture_is_indexed_with_its_table(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    from indexer.docx_parser import parse_document
    from tests.ocr_fixtures import font

    table = render_table([["Pin", "Signal"], ["1", "KL30"], ["2", "WAKE"]])
    img = Image.new("L", (table.width + 200, table.height + 70), 255)
    img.paste(table, (0, 50))
    ImageDraw.Draw(img).text((14, 12), "Table 7 Connector QUADRAX pinout", font=font(22, korean=False), fill=0)
    doc = make_docx(tmp_path / "specs" / "cap.docx", [("heading", "4 Harness"), ("picture", img)])
    [sec] = [s for s in parse_document(doc, ocr=CFG).sections if s.number == "4"]
    assert sec.tables[0].rows[1] == ["1", "KL30"]
    # The title lives only outside the grid: it must reach the index with the table.
    assert "QUADRAX" in sec.tables[0].note and sec.tables[0].note.startswith("(from image, OCR)")
    _index(doc)
    hits = _search("QUADRAX")
    assert hits and hits[0]["section"] == "4", hits


def test_despike_removes_specks_but_keeps_thin_strokes_and_dots() -> None:
    import numpy as np

    from indexer.ocr.preprocess import despike

    page = render_paragraph("3.3V i.e. 1.5A; il", width=400, size=14)
    clean = np.array(page)
    noisy = np.array(scan_like(page, angle=0, scale=1, noise=0.02))
    clean_scan = np.array(scan_like(page, angle=0, scale=1, noise=0))
    # A clean page is left as it is: no stroke pixel or dot of 14 px text is taken for a speck.
    assert int((despike(clean) != clean).sum()) == 0
    # Noise is removed: what is left differs from the noise-free scan in few pixels.
    before = int((np.abs(noisy.astype(int) - clean_scan) > 40).sum())
    after = int((np.abs(despike(noisy).astype(int) - clean_scan) > 40).sum())
    assert after < before * 0.1, (before, after)


def _tidy(text: str) -> str:
    from indexer.ocr.engine import _tidy as tidy

    return tidy(text)


def test_backslash_after_a_number_is_the_unit_v() -> None:
    # Tesseract reads a V after digits as a backslash on blurred scans; no spec value is "24\".
    assert [_tidy("24\\"), _tidy("3.3\\"), _tidy("a\\b"), _tidy("C:\\x")] == ["24V", "3.3V", "a\\b", "C:\\x"]


def test_bad_images_are_refused_before_ocr() -> None:
    assert "EMF" in read_image(emf_bytes(), "x.emf", CFG).message
    assert "too large" in read_image(huge_png(), "big.png", CFG).message
    assert "animated" in read_image(animated_gif(), "a.gif", CFG).message
    assert read_image(corrupt_png(), "c.png", CFG).status == "bad"
    assert "truncated" in read_image(truncated_png(), "t.png", CFG).message
    assert read_image(png_bytes(render_logo("x", size=6)), "tiny.png", CFG).status == "small"


def _index(path: Path):
    from indexer.pipeline import index_paths

    [rep] = index_paths([path], progress=False)
    assert rep.status == "indexed", rep.error
    return rep


def _search(query: str) -> list[dict]:
    from indexer.search import search

    return [h.to_json() for h in search(query, k=5, mode="keyword")]


def _spec(tmp_path: Path, extra: str = "") -> Path:
    table = render_table([["Pin", "Signal", "기능"], ["1", "FLUXGATE", "냉각수"], ["2", "GND", "접지"]])
    return make_docx(
        tmp_path / "specs" / "ocr_spec.docx",
        [
            ("heading", "5 Connectors"),
            ("text", "The harness connectors are listed below."),
            ("heading", "5.3 Connector pin-out"),
            ("text", "See the supplier drawing."),
            ("picture", table),
            ("heading", "6 Protection"),
            ("picture", render_paragraph("Every output has Shortcircuit protection with a latch.", width=800)),
            ("text", "Further rules follow." + extra),
        ],
        header_logo=render_logo("ACME"),
    )


@needs_tesseract
@needs_korean
def test_picture_words_are_searchable_in_their_section_and_cached(tmp_path: Path) -> None:
    from indexer.docx_parser import parse_document

    rep = _index(_spec(tmp_path))
    # 2 body pictures + the logo in 3 headers/footers; the logo is read once.
    assert (rep.images, rep.ocr_tables, rep.ocr_texts, rep.ocr_read, rep.ocr_cached) == (5, 1, 2, 3, 0)
    for word in ("FLUXGATE", "냉각수"):  # only in the picture of the table
        hits = _search(word)
        assert hits and hits[0]["section"] == "5.3", (word, hits)
        assert "(from image, OCR)" in hits[0]["text"]
    hits = _search("Shortcircuit")
    assert hits and hits[0]["section"] == "6"
    # The logo, once, under the document-level header/footer entry.
    secs = parse_document(_spec(tmp_path / "again"), ocr=CFG).sections
    hf = [s for s in secs if s.title == "Page header and footer"]
    assert len(hf) == 1 and hf[0].text.count("ACME") == 1
    table = next(s for s in secs if s.number == "5.3").tables[0]
    assert table.rows[1][1:] == ["FLUXGATE", "냉각수"] and table.note == "(from image, OCR)"

    # The document changes, its pictures do not: nothing is OCR'd again.
    rep2 = _index(_spec(tmp_path, extra=" A new sentence."))
    assert (rep2.ocr_read, rep2.ocr_cached, rep2.ocr_tables) == (0, 3, 1)
    assert _search("FLUXGATE")[0]["section"] == "5.3"


@needs_tesseract
def test_each_bad_image_is_reported_by_name_and_the_rest_indexed(tmp_path: Path) -> None:
    from indexer.cli import format_report

    doc = make_docx(
        tmp_path / "bad.docx",
        [
            ("heading", "1 Scope"),
            ("text", "Brake lamp wiring is described here."),
            ("picture", (corrupt_png(), "png")),
            ("picture", (truncated_png(), "png")),
            ("picture", (huge_png(), "png")),
            ("picture", (emf_bytes(), "emf")),
            ("picture", (animated_gif(), "gif")),
        ],
    )
    rep = _index(doc)
    text = format_report(rep)
    for name, why in [
        ("image1.png", "not a readable image"),
        ("image2.png", "corrupt or truncated"),
        ("image3.png", "too large"),
        ("image4.emf", "vector image (EMF) skipped"),
        ("image5.gif", "animated GIF skipped"),
    ]:
        line = next((ln for ln in text.splitlines() if name in ln), "")
        assert why in line, (name, text)
    assert "Traceback" not in text
    assert _search("Brake lamp")[0]["section"] == "1"


@needs_tesseract
def test_mostly_low_confidence_picture_is_reported_and_not_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.cli import format_report
    from specbot.settings import reset_settings

    monkeypatch.setenv("OCR_MIN_CONFIDENCE", "99.5")
    reset_settings()
    pic = scan_like(render_paragraph("Quenchable relay coils need a flyback diode."), angle=2.0, scale=0.6, noise=0.03)
    doc = make_docx(tmp_path / "low.docx", [("heading", "2 Relays"), ("text", "Relay rules."), ("picture", pic)])
    rep = _index(doc)
    assert rep.ocr_low_confidence == ["image1.png"]
    assert "1 image: OCR confidence too low (image1.png)" in format_report(rep)
    assert _search("Quenchable") == []


def test_ocr_off_indexes_alt_text_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from specbot.settings import reset_settings

    monkeypatch.setenv("OCR", "off")
    reset_settings()
    parts = [("heading", "1 A"), ("text", "x"), ("picture", render_paragraph("Zanzibar"))]
    doc = make_docx(tmp_path / "off.docx", parts)
    rep = _index(doc)
    assert rep.images == 0 and rep.ocr_read == 0
    assert _search("Zanzibar") == []


def test_missing_tesseract_is_a_warning_with_the_apt_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    parts = [("heading", "1 A"), ("text", "Wiper rules."), ("picture", render_paragraph("Hi"))]
    doc = make_docx(tmp_path / "w.docx", parts)
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run_cli("index", str(doc), env={"PATH": str(empty)})
    assert r.returncode == 0, r.stderr
    apt = "apt-get update && apt-get install -y tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng"
    assert f"OCR skipped: tesseract is not installed; run: {apt}" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
