"""`specbot train`: a short real CPU run on SmolLM2 (TRL + peft), the held-out
margin report, clear stops on unusable data, and serving the adapter from the
real local vLLM through runtime LoRA loading.

Kept short (2 steps, max length 96): the CI machine has 2 cores.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

FACTS = [
    ("What is the rated voltage of X1?", "[4.1] Rated voltage: 12 V", "12 V (see 4.1).", "24 V."),
    ("Which view shows the pins?", "[5.3.1] Bottom View: pin layout", "The bottom view (5.3.1).", "The top view."),
    ("What is the maximum current of X1?", "[4.2] Maximum current: 10 A", "10 A (4.2).", "I do not know."),
    ("What is the operating temperature?", "[6.1] -40 to 85 °C", "-40 to 85 °C (6.1).", "Room temperature."),
    ("What colour is the connector housing?", "[7.2] Housing colour: black", "Black (7.2).", "Blue."),
]


@pytest.fixture(scope="session")
def base_model() -> Path:
    """The converted SmolLM2 folder, made once per machine (shared with the vLLM fixture)."""
    from specbot.local_model import model_dir
    from specbot.settings import Settings

    data = Path(os.environ.get("SPECBOT_TEST_MODEL_DIR", ROOT / ".data"))
    return model_dir(Settings(SPECBOT_DATA_DIR=data))


def seed_votes() -> None:
    """Per question: a good answer voted 👍 and a bad one 👎, through the real jobs."""
    from feedback.jobs import record_vote
    from feedback.store import record_answer

    for i, (q, ctx, good, bad) in enumerate(FACTS):
        for j, (text, emoji) in enumerate(((good, "+1"), (bad, "-1"))):
            ts = f"17000000{i}{j}.000100"
            messages = [
                {"role": "system", "content": "Answer from the context and cite the section."},
                {"role": "user", "content": f"Context:\n{ctx}\n\nQuestion: {q}"},
            ]
            record_answer(
                f"job-{i}-{j}",
                {"team": "T1", "channel": "C1", "question": q, "user": "U1"},
                {"answer": text, "message_ts": ts, "messages": messages, "model": "smollm2-135m-instruct"},
            )
            record_vote({"team": "T1", "channel": "C1", "message_ts": ts, "user": "U9", "reaction": emoji,
                         "added": True, "event_id": f"E{i}{j}", "event_ts": ts})  # fmt: skip


def export(fmt: str, tmp_path: Path) -> Path:
    from feedback.export import export as do_export
    from feedback.store import get_engine

    out = tmp_path / f"{fmt}.jsonl"
    rep = do_export(fmt, out, get_engine(), holdout=0.4)
    assert rep.rows >= 3 and rep.eval_rows >= 1
    return out


def test_kto_short_cpu_run_saves_adapter_and_reports_margin(tmp_path: Path, base_model: Path) -> None:
    seed_votes()
    data = export("kto", tmp_path)
    out = tmp_path / "kto-adapter"
    args = ["train", "kto", "--data", str(data), "--base", str(base_model), "--out", str(out)]
    r = run_cli(*args, "--steps", "2", "--max-length", "96", "--json", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)
    assert rep["steps"] == 2 and math.isfinite(rep["train_loss"])
    assert (out / "adapter_model.safetensors").stat().st_size > 0
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] <= 8 and cfg["peft_type"] == "LORA"
    ev = rep["eval"]
    # Measured on the held-out file the export wrote, before and after training.
    assert ev["n"] >= 2 and math.isfinite(ev["before"]) and math.isfinite(ev["after"])
    assert ev["after"] != ev["before"]
    assert "%" in r.stderr or "it/s" in r.stderr or "s/it" in r.stderr  # progress bar shown


@pytest.mark.slow
def test_dpo_adapter_is_served_by_local_vllm(
    tmp_path: Path, base_model: Path, llm_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.register import unregister_adapter
    from feedback.train import TrainOptions, train
    from specbot.settings import reset_settings
    from workers.llm import LLMClient, check_model

    seed_votes()
    data = export("dpo", tmp_path)
    name = "fb-test-" + uuid.uuid4().hex[:6]
    out = tmp_path / name
    rep = train(TrainOptions("dpo", data, out, base=str(base_model), steps=2, max_length=96, progress=False))
    assert math.isfinite(rep["train_loss"]) and rep["eval"]["before"] is not None

    from feedback.register import register_adapter

    try:
        assert register_adapter(llm_url, name, out)
        # Workers pick the adapter through LLM_MODEL.
        monkeypatch.setenv("LLM_BASE_URL", llm_url)
        monkeypatch.setenv("LLM_MODEL", name)
        reset_settings()
        check_model()
        comp = LLMClient().chat([{"role": "user", "content": "What is the rated voltage of X1?"}], max_tokens=8)
        assert comp.model == name and comp.text.strip()
    finally:
        unregister_adapter(llm_url, name)


def test_register_rejects_a_folder_without_adapter(tmp_path: Path) -> None:
    from feedback.register import register_adapter
    from specbot.errors import SpecbotError

    with pytest.raises(SpecbotError, match="not a LoRA adapter"):
        register_adapter("http://127.0.0.1:9/v1", "x", tmp_path)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


P = [{"role": "user", "content": "q"}]


@pytest.mark.parametrize(
    ("method", "rows", "message"),
    [
        ("kto", [], "no rated answers"),
        ("kto", [{"prompt": P, "completion": [{"role": "assistant", "content": "a"}], "label": True}] * 3, "one-sided"),
        ("dpo", [], "no preference pairs"),
        (
            "dpo",
            [
                {
                    "prompt": P,
                    "chosen": [{"role": "assistant", "content": "a"}],
                    "rejected": [{"role": "assistant", "content": "a"}],
                }
            ],
            "no preference pairs",
        ),  # fmt: skip
        ("dpo", [{"prompt": P, "completion": [], "label": True}], "is this a DPO export"),
    ],
)
def test_unusable_data_stops_with_a_clear_message(tmp_path: Path, method: str, rows: list, message: str) -> None:
    data = _write(tmp_path / "d.jsonl", rows)
    r = run_cli("train", method, "--data", str(data), "--out", str(tmp_path / "o"), timeout=120)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_rank_above_vllm_limit_is_refused(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", [])
    r = run_cli("train", "dpo", "--data", str(data), "--out", str(tmp_path / "o"), "--rank", "16", timeout=120)
    assert r.returncode == 2 and "max-lora-rank" in r.stderr


def seed_ab_choices() -> None:
    """Per question: a first answer, a second try ("Try another answer", same prompt), and the
    asker's choice of the better one through the same records the A/B buttons write."""
    from feedback.interactions import link_alternative, record_preference
    from feedback.store import record_answer

    for i, (q, ctx, good, bad) in enumerate(FACTS):
        messages = [
            {"role": "system", "content": "Answer from the context and cite the section."},
            {"role": "user", "content": f"Context:\n{ctx}\n\nQuestion: {q}"},
        ]
        payload = {"team": "T1", "channel": "C1", "question": q, "user": "UASKER1"}
        # Alternate sides so the model cannot learn "B wins": A is the good answer every other time.
        first, second, choice = (bad, good, "b") if i % 2 == 0 else (good, bad, "a")
        record_answer(f"a-{i}", payload, {"answer": first, "message_ts": f"17000001{i}0.000100", "messages": messages})
        record_answer(f"b-{i}", payload, {"answer": second, "message_ts": f"17000001{i}1.000100", "messages": messages})
        link_alternative(job_id=f"b-{i}", alt_of_job_id=f"a-{i}")
        record_preference(a_job=f"a-{i}", b_job=f"b-{i}", choice=choice, user="UASKER1", role="asker",
                          action_ts=f"17000002{i}.000001")  # fmt: skip


def test_dpo_on_ab_pairs_moves_the_held_out_margin(tmp_path: Path, base_model: Path) -> None:
    seed_ab_choices()
    data = export("dpo", tmp_path)
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    held = [json.loads(x) for x in data.with_name("dpo.eval.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows + held} == {"ab"}
    assert all(r["chosen"][0]["content"] in {f[2] for f in FACTS} for r in rows + held)  # the better answers won
    out = tmp_path / "dpo-adapter"
    args = ["train", "dpo", "--data", str(data), "--base", str(base_model), "--out", str(out)]
    r = run_cli(*args, "--steps", "3", "--lr", "5e-4", "--max-length", "96", "--json", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    ev = json.loads(r.stdout)["eval"]
    # Measured as for every export: mean per-token log-prob, chosen - rejected, on the held-out questions.
    assert ev["n"] >= 1 and math.isfinite(ev["before"]) and math.isfinite(ev["after"])
    assert ev["after"] > ev["before"], ev
