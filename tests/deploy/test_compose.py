"""docker-compose.yml as the real Docker Compose binary renders it, for every profile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, free_port
from tests.deploy.conftest import (
    DEPLOY,
    LLM_PROFILES,
    PROFILES,
    REQUIRED,
    SECRETS,
    env_file_keys,
    pinned,
    run_compose,
)


def arg(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_every_profile_renders_and_follows_the_compose_spec(render, schemas: Path) -> None:
    import jsonschema

    spec = json.loads((schemas / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(spec)
    for profile in PROFILES:
        model = render(profile)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(model)]
        assert not errors, f"profile {profile}: {errors[:5]}"


def test_the_readme_commands_render_with_only_the_required_block(tmp_path: Path, filled_env: Path) -> None:
    """`cd deploy && cp .env.example .env` (+ the REQUIRED block): compose reads deploy/.env by itself."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns(".env", "models"))
    shutil.copy(filled_env, copy / ".env")
    r = run_compose("config", "--services", env={}, cwd=copy)
    assert r.returncode == 0, r.stderr
    # The shipped example starts the GPU stack.
    assert {"vllm", "worker", "bot", "redis", "postgres", "weaviate", "indexer"} <= set(r.stdout.split())


@pytest.mark.parametrize("secret", REQUIRED)
def test_rendering_stops_with_a_clear_message_while_a_required_secret_is_empty(
    secret: str, filled_env: Path, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text(re.sub(rf"^{secret}=.*$", f"{secret}=", filled_env.read_text(), flags=re.M))
    for profile in ("gpu", "cpu"):
        r = run_compose("--env-file", str(env), "config", "-q", env={"COMPOSE_PROFILES": profile})
        assert r.returncode != 0, f"{profile} rendered without {secret}"
        assert f"set {secret} in deploy/.env" in r.stderr


def llm_service(model: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    def aliases(s: dict[str, Any]) -> list[str]:
        return ((s.get("networks") or {}).get("default") or {}).get("aliases", [])

    held = [(n, s) for n, s in model["services"].items() if "llm" in aliases(s)]
    assert len(held) == 1, f"exactly one service must answer as `llm`, got {[n for n, _ in held]}"
    return held[0]


@pytest.mark.parametrize("profile", list(LLM_PROFILES))
def test_workers_ask_for_the_model_that_the_llm_service_serves(render, profile: str) -> None:
    model = render(profile)
    name, llm = llm_service(model)
    assert name == LLM_PROFILES[profile]
    worker = model["services"]["worker"]["environment"]
    cmd = [str(c) for c in llm["command"]]
    assert worker["LLM_BASE_URL"] == "http://llm:8000/v1"
    assert worker["LLM_MODEL"] == arg(cmd, "--served-model-name")
    # The workers' prompt budget is what vLLM accepts, and they send the key vLLM requires.
    assert worker["LLM_CONTEXT_TOKENS"] == arg(cmd, "--max-model-len")
    assert worker["LLM_API_KEY"] == llm["environment"]["VLLM_API_KEY"] == SECRETS["LLM_API_KEY"]
    # (llm-cpu appends to the local server's command, which enables LoRA: test_entrypoint.)
    assert "--enable-lora" in cmd or profile == "cpu"
    assert "--api-key" not in cmd  # from the environment, not visible in the process list
    # The same holds when a team changes the context length.
    changed = render(profile, LLM_CONTEXT_TOKENS="4096")
    assert changed["services"]["worker"]["environment"]["LLM_CONTEXT_TOKENS"] == "4096"
    assert arg([str(c) for c in llm_service(changed)[1]["command"]], "--max-model-len") == "4096"


def test_gpu_profiles_serve_llama3_the_small_one_quantized_for_8_to_10_gb(render) -> None:
    keys = env_file_keys(DEPLOY / ".env.example")
    big = render("gpu")["services"]["vllm"]
    assert big["image"].startswith("vllm/vllm-openai:") and pinned(big["image"])
    assert big["command"][0] == keys["VLLM_MODEL"] == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert big["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    small = render("gpu-small")["services"]["vllm-small"]
    cmd = [str(c) for c in small["command"]]
    assert re.search(r"llama-3-8b-instruct-(awq|gptq)", cmd[0], flags=re.I)
    assert arg(cmd, "--quantization") in {"awq", "awq_marlin", "gptq", "gptq_marlin"}
    assert float(arg(cmd, "--gpu-memory-utilization")) <= 0.95 and "--enable-lora" in cmd
    assert small["image"] == big["image"]


def test_nothing_waits_on_a_one_shot_service(render) -> None:
    """`up --wait` fails on a service that exits, and a failed one-shot job would keep its
    dependants from starting: only on-demand profiles (train) may hold one-shot services."""
    for profile in PROFILES:
        services = render(profile)["services"]
        for name, svc in services.items():
            for dep, cond in (svc.get("depends_on") or {}).items():
                assert cond["condition"] != "service_completed_successfully", f"{profile}: {name} waits on {dep}"
            if svc.get("restart", "no") == "no":
                assert "train" in (svc.get("profiles") or []), f"{profile}: {name} exits after one run"
    assert "indexer" not in render("gpu")["services"]["worker"]["depends_on"]


def test_redis_requires_a_password_everywhere_and_caps_its_memory(render) -> None:
    model = render("monitoring")
    redis = model["services"]["redis"]
    cmd = " ".join(redis["command"])
    assert "--appendonly yes" in cmd and "--appendfsync everysec" in cmd and "--requirepass" in cmd
    maxmemory = re.search(r"--maxmemory (\d+)mb", cmd)
    assert maxmemory and "--maxmemory-policy noeviction" in cmd
    assert int(maxmemory.group(1)) * 2**20 < int(redis["mem_limit"])  # Redis refuses writes before the OOM killer
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in redis["volumes"])
    urls = [v for s in model["services"].values() for k, v in (s.get("environment") or {}).items() if "REDIS_URL" in k]
    assert len(urls) >= 3  # worker, bot, rq-dashboard
    assert all(u.startswith(f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/") for u in urls), urls


def test_the_rendered_redis_command_really_refuses_clients_without_the_password(render, tmp_path: Path) -> None:
    """Run the exact redis-server command line compose renders (on a spare local port)."""
    import redis as redis_py

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    rendered = render("gpu")["services"]["redis"]
    script = rendered["command"][2].replace("$$", "$").replace("--dir /data", f"--dir {tmp_path}")
    port = free_port()
    script += f" --port {port} --bind 127.0.0.1"
    env = {**rendered["environment"], "PATH": "/usr/bin:/bin:/usr/local/bin"}
    proc = subprocess.Popen(["sh", "-c", script], env=env)
    try:
        url = rendered["environment"]["REDIS_PASSWORD"]
        authed = redis_py.Redis(host="127.0.0.1", port=port, password=url, socket_timeout=5)
        for _ in range(100):
            try:
                authed.ping()
                break
            except redis_py.ConnectionError:
                proc.poll()
                assert proc.returncode is None, "redis-server exited"
                subprocess.run(["sleep", "0.1"])
        assert authed.ping()
        with pytest.raises(redis_py.AuthenticationError):
            redis_py.Redis(host="127.0.0.1", port=port, socket_timeout=5).set("x", "1")
        assert authed.config_get("maxmemory")["maxmemory"] == str(768 * 2**20)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_each_service_gets_only_the_settings_it_uses(render) -> None:
    for profile in PROFILES:
        for name, svc in render(profile)["services"].items():
            assert "env_file" not in svc, f"{name}: env_file hands every secret to the container"
    s = render("gpu")["services"]
    env = {name: svc.get("environment") or {} for name, svc in s.items()}

    def holders(secret: str) -> set[str]:
        value = SECRETS[secret]
        return {name for name, e in env.items() if any(value in str(v) for v in e.values())}

    assert holders("HF_TOKEN") == {"vllm"}
    assert holders("LLM_API_KEY") == {"vllm", "worker"}
    assert holders("SLACK_BOT_TOKEN") == {"bot", "worker"}
    assert holders("WEAVIATE_API_KEY") == {"weaviate", "worker", "bot", "indexer"}
    assert holders("POSTGRES_PASSWORD") == {"postgres", "worker", "bot"}  # the two in DATABASE_URL
    assert "POSTGRES_PASSWORD" not in env["bot"] and "POSTGRES_PASSWORD" not in env["worker"]
    assert holders("REDIS_PASSWORD") == {"redis", "worker", "bot"}
    assert holders("USER_ID_SALT") == {"worker", "bot"}


def test_bot_and_workers_are_checked_on_healthz_and_every_service_has_a_check(render) -> None:
    for profile in PROFILES:
        for name, svc in render(profile)["services"].items():
            assert (svc.get("healthcheck") or {}).get("test"), f"{profile}: {name} has no health check"
    s = render("gpu")["services"]
    port = s["worker"]["environment"]["METRICS_PORT"]
    for name in ("bot", "worker"):
        test = s[name]["healthcheck"]["test"]
        assert test[-1] == f"http://127.0.0.1:{port}/healthz", name
    assert s["bot"]["environment"]["METRICS_PORT"] == port
    assert s["indexer"]["healthcheck"]["test"][-1] == "index-health"


def test_the_indexer_reindexes_a_mounted_folder_and_runs_on(render) -> None:
    ix = render("gpu")["services"]["indexer"]
    assert ix["command"] == ["index-loop"] and ix["restart"] == "unless-stopped"
    specs = [v for v in ix["volumes"] if v["target"] == "/specs"]
    assert specs and specs[0]["read_only"] and specs[0]["source"] == str((ROOT / "specs").resolve())


def test_worker_scales_with_docker_compose_scale(render) -> None:
    w = render("gpu")["services"]["worker"]
    assert "container_name" not in w and "ports" not in w
    assert w["command"][:2] == ["worker", "-n"]


def test_external_images_are_pinned(render) -> None:
    for profile in PROFILES:
        for name, svc in render(profile)["services"].items():
            assert pinned(svc["image"]), f"{name}: {svc['image']}"


def test_weaviate_requires_the_api_key_that_workers_send(render) -> None:
    s = render("gpu")["services"]
    env = s["weaviate"]["environment"]
    assert env["AUTHENTICATION_APIKEY_ENABLED"] == "true" and env["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false"
    assert env["AUTHENTICATION_APIKEY_ALLOWED_KEYS"] == s["worker"]["environment"]["WEAVIATE_API_KEY"] != ""
    assert any(v["target"] == env["PERSISTENCE_DATA_PATH"] and v["type"] == "volume" for v in s["weaviate"]["volumes"])


def test_prometheus_scrapes_bot_and_every_worker_on_metrics_port(render) -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    port = render("monitoring")["services"]["worker"]["environment"]["METRICS_PORT"]
    dns = jobs["specbot-worker"]["dns_sd_configs"][0]
    assert dns["names"] == ["worker"] and str(dns["port"]) == port
    assert jobs["specbot-bot"]["static_configs"][0]["targets"] == [f"bot:{port}"]


def test_every_variable_compose_reads_is_in_the_deploy_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY / "docker-compose.yml").read_text()))
    keys = env_file_keys(DEPLOY / ".env.example")
    assert used - {"COMPOSE_PROFILES"} <= set(keys), sorted(used - set(keys))
    assert "COMPOSE_PROFILES" in keys and keys["COMPOSE_PROFILES"] == "gpu"


def test_the_two_env_examples_do_not_contradict_each_other() -> None:
    """Root .env.example: specbot on one machine (every Settings field). deploy/.env.example:
    the compose stack. A setting in both has the same default in both."""
    from specbot.settings import Settings

    root = env_file_keys(ROOT / ".env.example")
    deploy = env_file_keys(DEPLOY / ".env.example")
    fields = {f.alias for f in Settings.model_fields.values() if f.alias}
    assert fields <= set(root), f"add to .env.example: {sorted(fields - set(root))}"
    # Compose-only settings live only in deploy/.env.example.
    compose_only = set(deploy) - fields
    assert not compose_only & set(root), sorted(compose_only & set(root))
    differs = {k: (root[k], deploy[k]) for k in set(root) & set(deploy) if root[k] != deploy[k] and deploy[k] != ""}
    assert not differs, differs
