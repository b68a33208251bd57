"""`specbot eval`: scores search on a golden file per mode and language, lists the misses,
writes JSON; --answers checks each answer against its `expect` string and the guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.eval import Golden, GoldenError, evaluate_answers, load_golden, rank_of, score
from indexer.models import Hit
from tests.conftest import run_cli

SAMPLE = "sample_brake_spec.docx"


def write_golden(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rank_matches_number_cite_and_alternatives() -> None:
    q = Golden(id="a", question="?", doc="38331.docx", section="7.4 › VarMeasReportList", also=["5.5.4.1"])
    hits = [
        Hit("38331.docx", "5.5.5", "Measurement reporting", "", 0.9),
        Hit("other.docx", "", "– VarMeasReportList", "", 0.8, cite="7.4 › VarMeasReportList"),
        Hit("38331.docx", "", "– VarMeasReportList", "", 0.7, cite="7.4 › VarMeasReportList"),
    ]
    assert rank_of(hits, q) == 3  # the same section in another document does not count
    assert rank_of([Hit("38331.docx", "5.5.4.1", "General", "", 1.0)], q) == 1
    assert score([1, 2, None, 6]) == {"recall@1": 0.25, "recall@5": 0.5, "mrr": 0.417, "n": 4}


def test_bad_golden_files_say_which_line(tmp_path: Path) -> None:
    p = tmp_path / "g.jsonl"
    p.write_text('{"question": "q", "doc": "d.docx", "section": "1"}\n{"question": "q2", "doc": "d.docx"}\n')
    with pytest.raises(GoldenError, match=r"g.jsonl:2: missing section"):
        load_golden(p)
    p.write_text("not json\n")
    with pytest.raises(GoldenError, match=r":1: not JSON"):
        load_golden(p)


def test_eval_cli_table_json_and_misses(indexed_sample: Path, tmp_path: Path) -> None:
    assert indexed_sample.name == SAMPLE
    golden = write_golden(
        tmp_path / "golden.jsonl",
        [
            {"id": "en-1", "lang": "en", "question": "How hard may the driver press the brake pedal?",
             "doc": SAMPLE, "section": "3.1", "wording": "other"},
            {"id": "ko-1", "lang": "ko", "question": "비밀번호는 몇 자 이상이어야 해?",
             "doc": SAMPLE, "section": "4.2"},
            {"id": "koen-1", "lang": "ko-en", "question": "브레이크 경고등은 고장 감지 후 몇 ms 안에 켜져야 해?",
             "doc": SAMPLE, "section": "3.2", "also": ["3.1.1"]},
            # Deliberately wrong: the voltage range is in 2.1, not 2.2. It must show as a miss.
            {"id": "wrong-1", "lang": "en", "question": "What supply voltage range must the EBC work at?",
             "doc": SAMPLE, "section": "2.2"},
            {"id": "gone-1", "lang": "en", "question": "x", "doc": "not_indexed.docx", "section": "1"},
        ],
    )  # fmt: skip
    out = tmp_path / "eval.json"
    r = run_cli("eval", str(golden), "-k", "5", "--out", str(out), timeout=180)
    assert r.returncode == 0, r.stderr
    assert "not_indexed.docx" in r.stderr  # skipped, and said so
    assert "hybrid" in r.stdout and "lang=ko-en" in r.stdout and "R@5" in r.stdout
    res = json.loads(out.read_text(encoding="utf-8"))
    assert set(res["modes"]) == {"hybrid", "keyword", "vector"}
    assert res["questions"] == 4 and res["skipped_docs"] == ["not_indexed.docx"]
    hybrid = res["modes"]["hybrid"]
    assert hybrid["n"] == 4 and hybrid["recall@5"] == 0.75  # all but the wrong one
    assert {"en", "ko", "ko-en"} == set(res["by"]["hybrid"]["lang"])
    wrong = next(m for m in res["misses"]["hybrid"] if m["id"] == "wrong-1")
    assert wrong["rank"] is None and wrong["expected"] == f"{SAMPLE} § 2.2"
    assert any("§ 2.1" in g for g in wrong["got"])  # shows where search went instead

    r = run_cli("eval", str(golden), "--modes", "keyword", "--json", timeout=180)
    assert r.returncode == 0, r.stderr
    assert list(json.loads(r.stdout)["modes"]) == ["keyword"]


def test_eval_cli_clear_errors(tmp_path: Path) -> None:
    r = run_cli("eval", str(tmp_path / "none.jsonl"), timeout=120)
    assert r.returncode == 2 and "no such golden file" in r.stderr
    golden = write_golden(tmp_path / "g.jsonl", [{"question": "q", "doc": "a.docx", "section": "1"}])
    r = run_cli("eval", str(golden), timeout=120)
    assert r.returncode == 2 and "run `specbot index` first" in r.stderr


def test_answers_checked_against_expect_language_and_sources() -> None:
    golden = [
        Golden(id="1", question="What is the maximum pedal force?", doc="s.docx", section="3.1", expect="500 N"),
        Golden(id="2", question="비밀번호는 몇 자 이상?", doc="s.docx", section="4.2", lang="ko", expect="8자"),
        Golden(id="3", question="Which lamp turns on?", doc="s.docx", section="3.2"),
    ]
    src = {"3.1": [{"doc": "s.docx", "section": "3.1"}], "4.2": [{"doc": "s.docx", "section": "4.2"}]}
    answers = {
        "1": {"answer": "The pedal force shall not exceed 500 N (§3.1).", "sources": src["3.1"]},
        # The Korean question answered in English: the language guard flags it.
        "2": {"answer": "The password must have at least 8 characters.", "sources": src["4.2"]},
    }

    def answer_fn(question: str, doc: str | None) -> dict:
        for g in golden:
            if g.question == question and g.id in answers:
                return answers[g.id]
        raise RuntimeError("model unavailable")

    res = evaluate_answers(golden, answer_fn, guard=lambda q, r: ["echo"] if "shall" in r["answer"] else [])
    rows = {r["id"]: r for r in res["rows"]}
    assert rows["1"]["expect_ok"] and rows["1"]["cited"] and rows["1"]["problems"] == ["echo"]
    assert not rows["2"]["passed"] and "answer in en, question in ko" in rows["2"]["problems"]
    assert not rows["2"]["expect_ok"]
    assert not rows["3"]["passed"] and "error: RuntimeError: model unavailable" in rows["3"]["problems"]
    assert res["n"] == 3 and res["passed"] == 0.0 and set(res["by_lang"]) == {"en", "ko"}
