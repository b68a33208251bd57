"""An answer about something that exists only in a picture of a table cites that section.

Real parts: Tesseract (Debian), LanceDB, vLLM on CPU (`ask --local`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.ocr_fixtures import has_korean_font, make_docx, render_paragraph, render_table


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None or not has_korean_font(), reason="tesseract-ocr/fonts-nanum")
def test_answer_cites_the_section_of_a_scanned_pinout(tmp_path: Path, llm_env: str) -> None:
    table = render_table([["Pin", "Signal", "Voltage"], ["7", "FLUXGATE", "24V"], ["8", "냉각수 펌프", "12V"]])
    doc = make_docx(
        tmp_path / "specs" / "harness.docx",
        [
            ("heading", "4 Power supply"),
            ("text", "The supply rails are protected by fuses."),
            ("heading", "4.2 Connector X12 pin-out"),
            ("text", "The supplier's drawing follows."),
            ("picture", table),
            ("heading", "5 Diagnostics"),
            ("picture", render_paragraph("Diagnostic trouble codes are stored in EEPROM.", width=800)),
        ],
    )
    r = run_cli("index", str(doc))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 images: 1 table and 1 text read by OCR" in r.stdout
    r = run_cli("ask", "Which pin carries the FLUXGATE signal?", "--json", "--local", timeout=180)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sources"][0]["section"] == "4.2", out["sources"]
    assert "(from image, OCR)" in out["sources"][0]["text"]
    r = run_cli("ask", "냉각수 펌프 전압은?", "--json", "--local", timeout=180)
    out = json.loads(r.stdout)
    assert out["sources"][0]["section"] == "4.2", out["sources"]
