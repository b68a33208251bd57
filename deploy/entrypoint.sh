#!/bin/sh
# One image, many roles: the first argument picks what this container is.
#   bot | worker | index | llm | health | ask | search | sections | feedback | train | demo | shell
# Everything after the role is passed on, e.g. `worker -n 8`, `index /specs --prune`.
set -eu

role="${1:-help}"
[ $# -gt 0 ] && shift

# Where the configured console script lives (the image puts /opt/venv/bin on PATH;
# tests run this script from a checkout with .venv/bin on PATH).
SPECBOT="${SPECBOT_BIN:-specbot}"

case "$role" in
  bot)
    exec "$SPECBOT" bot --port "${BOT_PORT:-3000}" "$@"
    ;;
  worker)
    # All worker processes of this container share one /metrics port through
    # prometheus_client's multiprocess mode; the samples live in a private tmpfs dir.
    : "${PROMETHEUS_MULTIPROC_DIR:=${TMPDIR:-/tmp}/specbot-metrics-$$}"
    export PROMETHEUS_MULTIPROC_DIR
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    if [ $# -eq 0 ]; then
      set -- -n "${WORKER_PROCESSES:-1}"
    fi
    exec "$SPECBOT" worker "$@"
    ;;
  index)
    # One-shot: index the mounted specs folder; unchanged files are skipped, so a
    # re-run is cheap. --prune drops documents whose files were removed.
    if [ $# -eq 0 ]; then
      set -- "${SPECS_MOUNT:-/specs}" --prune
    fi
    exec "$SPECBOT" index "$@"
    ;;
  llm)
    # CPU profile only: the local vLLM (SmolLM2) from the `cpu` image target.
    # `specbot llm` listens on 127.0.0.1; a container must listen on all interfaces,
    # so build the same command and change the host.
    exec python - "$@" <<'PY'
import os, sys
from workers.local_llm import model_dir, server_command
port = int(os.environ.get("LLM_PORT", "8000"))
cmd = server_command(port, model_dir())
cmd[cmd.index("--host") + 1] = "0.0.0.0"
env = dict(os.environ)
for k, v in {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "HF_HUB_OFFLINE": "1",
             "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}.items():
    env.setdefault(k, v)
if os.environ.get("SPECBOT_LLM_DRY_RUN"):  # tests: show the command instead of starting vLLM
    print(" ".join(cmd + sys.argv[1:]))
    sys.exit(0)
os.execvpe(cmd[0], cmd + sys.argv[1:], env)
PY
    ;;
  health)
    # health URL: exit 0 when the URL answers 2xx (the image has no curl).
    url="${1:-http://127.0.0.1:${METRICS_PORT:-9100}/metrics}"
    exec python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url"
    ;;
  ask|search|sections|feedback|train|demo)
    exec "$SPECBOT" "$role" "$@"
    ;;
  shell)
    exec /bin/sh "$@"
    ;;
  help|-h|--help)
    echo "usage: entrypoint.sh bot|worker|index|llm|health|ask|search|sections|feedback|train|demo|shell [ARGS...]"
    exit 0
    ;;
  *)
    echo "entrypoint.sh: unknown role '$role' (bot|worker|index|llm|health|ask|search|sections|feedback|train|demo|shell)" >&2
    exit 64
    ;;
esac
