"""Settings come from the environment or `.env`, and every one is documented."""

from __future__ import annotations

import re
from pathlib import Path

from specbot.settings import Settings, get_settings, reset_settings
from tests.conftest import ROOT, run_cli


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    keys = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    fields = {f.alias for f in Settings.model_fields.values()}
    missing = fields - keys
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"
    # Each entry has a comment line right above it (or above its group).
    lines = example.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]+=", line):
            assert lines[i - 1].startswith("#") or re.match(r"^[A-Z]", lines[i - 1]), f"{line} has no comment"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LLM_MODEL=from-dotenv\nSEARCH_K=9\n")
    reset_settings()
    s = get_settings()
    assert s.llm_model == "from-dotenv"
    assert s.search_k == 9


def test_environment_beats_dotenv(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("LLM_MODEL=from-dotenv\n")
    monkeypatch.setenv("LLM_MODEL", "from-env")
    reset_settings()
    assert get_settings().llm_model == "from-env"


def test_default_database_is_sqlite_in_data_dir(isolated_settings: Path) -> None:
    url = get_settings().db_url
    assert url.startswith("sqlite:///") and url.endswith("feedback.db")
    assert str(isolated_settings.resolve()) in url


def test_unreachable_redis_is_one_clear_line() -> None:
    r = run_cli("ask", "what?", "--json", env={"REDIS_URL": "redis://127.0.0.1:1/0"}, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Redis at redis://127.0.0.1:1/0")


def test_redis_password_is_not_printed() -> None:
    r = run_cli("worker", env={"REDIS_URL": "redis://:hunter2secret@127.0.0.1:1/0"}, timeout=60)
    assert r.returncode == 2
    assert "hunter2secret" not in r.stderr + r.stdout
    assert "***@127.0.0.1:1/0" in r.stderr


def test_ask_without_a_worker_errors_within_seconds(redis_url: str) -> None:
    import time

    t0 = time.monotonic()
    r = run_cli("ask", "what is the pedal force?", "--json", timeout=60)
    assert r.returncode == 2
    assert "no worker is listening" in r.stderr
    assert time.monotonic() - t0 < 15


def test_unbuilt_commands_say_so() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("index", "sections", "search", "ask", "worker", "bot", "llm", "feedback", "train", "demo"):
        assert cmd in r.stdout
