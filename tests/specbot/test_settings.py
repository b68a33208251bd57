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


def test_ask_without_a_worker_errors_instead_of_waiting(redis_url: str) -> None:
    # The positive signal is the error itself: `ask` waits up to --timeout (300 s) for an
    # answer, so getting "no worker is listening" at all means it did not wait for one.
    # How fast that comes is a speed question, for bench/, not a test.
    r = run_cli("ask", "what is the pedal force?", "--json", "--timeout", "300", timeout=120)
    assert r.returncode == 2
    assert "no worker is listening" in r.stderr
    assert "Traceback" not in r.stderr


def test_unbuilt_commands_say_so() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("index", "sections", "search", "ask", "worker", "bot", "llm", "feedback", "train", "demo"):
        assert cmd in r.stdout


def test_invalid_setting_is_one_error_line_for_every_command(tmp_path: Path) -> None:
    spec = tmp_path / "x.docx"
    spec.write_bytes(b"")
    commands = [
        ("index", str(spec)),
        ("search", "pedal", "--json"),
        ("sections", str(spec), "--json"),
        ("ask", "what?", "--json", "--local"),
        ("worker", "--burst"),
        ("feedback", "stats"),
        ("demo",),
    ]
    for cmd in commands:
        r = run_cli(*cmd, env={"SEARCH_K": "abc", "REDIS_URL": "redis://127.0.0.1:1/0"}, timeout=120)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2, (cmd, r.stderr[-2000:])
        assert len(lines) == 1, (cmd, r.stderr[-2000:])
        assert lines[0].startswith("error: invalid setting SEARCH_K='abc'"), (cmd, lines)
        assert "integer" in lines[0] and "Traceback" not in r.stderr


def test_invalid_setting_in_dotenv_names_the_setting_and_hides_secrets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_RATE_LIMIT=lots\nSLACK_BOT_TOKEN=xoxb-secret-token\n")
    r = run_cli("search", "pedal", "--json", timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("error: invalid setting SLACK_RATE_LIMIT='lots'")
    assert "xoxb-secret-token" not in r.stderr + r.stdout


def _shadow(tmp_path: Path, module: str) -> dict[str, str]:
    """An environment in which `module` cannot be imported, as if it were not installed."""
    import os

    d = tmp_path / "shadow"
    (d / module).mkdir(parents=True)
    (d / module / "__init__.py").write_text(
        f'raise ModuleNotFoundError("No module named {module!r}", name={module!r})\n'
    )
    return {"PYTHONPATH": os.pathsep.join([str(d), str(ROOT), os.environ.get("PYTHONPATH", "")])}


def test_missing_dependency_is_named_with_an_install_hint(tmp_path: Path) -> None:
    spec = tmp_path / "x.docx"
    spec.write_bytes(b"")
    cases = [
        (("bot",), "slack_bolt", "pip install slack-bolt"),
        (("index", str(spec)), "lancedb", "pip install 'specbot[embedded-index]'"),
    ]
    for args, module, hint in cases:
        r = run_cli(*args, env=_shadow(tmp_path / module, module), timeout=120)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2, (args, r.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr[-2000:])
        assert f"`specbot {args[0]}` needs the Python package {module!r}" in lines[0], lines
        assert hint in lines[0] and "not built yet" not in lines[0], lines
