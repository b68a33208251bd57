"""Sources name the sections the answer came from, not every context block."""

from __future__ import annotations

from indexer.models import Hit
from specbot.contracts import AnswerResult
from workers.answer import select_sources
from workers.ask import render_text

PEDAL = Hit("spec.docx", "3.1", "Brake Pedal", "The maximum brake pedal force shall not exceed 500 N.", 0.99)
SENSOR = Hit(
    "spec.docx",
    "3.1.1",
    "Pedal Travel Sensor Fault",
    "If the pedal travel sensor fails, switch to the redundant sensor within 10 ms.",
    0.95,
)
SCOPE = Hit("spec.docx", "1", "Scope", "This specification defines the electronic brake controller.", 0.9)


def test_top_hit_always_and_unrelated_blocks_left_out() -> None:
    chosen = select_sources("The maximum brake pedal force is 500 N.", [PEDAL, SENSOR, SCOPE])
    assert [h.section for h in chosen] == ["3.1"]


def test_a_second_section_the_answer_draws_on_is_named() -> None:
    answer = "The force limit is 500 N; if the pedal travel sensor fails it switches to the redundant sensor."
    chosen = select_sources(answer, [PEDAL, SCOPE, SENSOR])
    assert [h.section for h in chosen] == ["3.1", "3.1.1"]


def test_no_hits_no_sources() -> None:
    assert select_sources("anything", []) == []


def test_unnumbered_section_is_shown_by_title_without_a_bare_section_sign() -> None:
    text = render_text(
        AnswerResult.from_wire(
            {
                "answer": "a",
                "sources": [
                    {"doc": "d.docx", "section": "", "title": "Foreword", "text": "", "score": 1.0},
                    {"doc": "d.docx", "section": "", "title": "", "text": "", "score": 0.5},
                ],
            }
        )
    )
    assert "d.docx · Foreword" in text
    assert "§" not in text
