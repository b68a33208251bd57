#!/bin/sh
# One image, many roles: the first argument picks what this container is.
#   bot | worker | index | index-loop | index-health | fetch-specs | llm | health | train-adapter |
#   ask | search | sections | feedback | train | demo | shell
# Everything after the role is passed on, e.g. `worker -n 8`, `index /specs --prune`.
set -eu

role="${1:-help}"
[ $# -gt 0 ] && shift

# Remember the role for `health` without a URL (the image's HEALTHCHECK runs in a new process).
# (Not for the checks themselves, which run beside the role in the same container.)
case "$role" in
  health|index-health|help|-h|--help) ;;
  *) printf '%s\n' "$role" > "${TMPDIR:-/tmp}/specbot-role" 2>/dev/null || true ;;
esac

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
  index-loop)
    # Compose's indexer service: index now, then every INDEX_INTERVAL_S seconds. A failed
    # file (or a Weaviate hiccup) is logged and retried next pass; the loop itself never
    # stops, so nothing that waits on this container waits forever or fails with it.
    # index-health reports healthy once a first pass has finished.
    interval="${INDEX_INTERVAL_S:-3600}"
    marker="${SPECBOT_DATA_DIR:-/data}/.index-pass-done"
    rm -f "$marker"
    while :; do
      if "$SPECBOT" index "${SPECS_MOUNT:-/specs}" --prune "$@"; then
        echo "index pass finished" >&2
      else
        echo "index pass finished with errors (exit $?); the failed files are retried next pass" >&2
      fi
      date +%s > "$marker"
      [ "$interval" -gt 0 ] 2>/dev/null || interval=3600
      sleep "$interval"
    done
    ;;
  index-health)
    test -f "${SPECBOT_DATA_DIR:-/data}/.index-pass-done"
    ;;
  fetch-specs)
    # fetch-specs DIR: download SPECS_URL (a .zip, .tar.gz/.tgz/.tar or one .docx over HTTP(S))
    # into DIR, keeping only .docx files with safe paths. SPECS_URL_TOKEN, when set, is sent
    # as a bearer token. The Kubernetes indexer's initContainer.
    exec python - "${1:-/specs}" <<'PY'
import io, os, sys, tarfile, urllib.request, zipfile
from pathlib import Path, PurePosixPath
dest = Path(sys.argv[1]); dest.mkdir(parents=True, exist_ok=True)
url = os.environ.get("SPECS_URL", "").strip()
if not url.startswith(("https://", "http://")):
    sys.exit(f"fetch-specs: SPECS_URL must be an http(s) URL of a .zip, .tar.gz or .docx (got {url[:40]!r})")
req = urllib.request.Request(url)
if os.environ.get("SPECS_URL_TOKEN"):
    req.add_header("Authorization", "Bearer " + os.environ["SPECS_URL_TOKEN"])
with urllib.request.urlopen(req, timeout=300) as r:
    data = r.read()
def safe(name):
    p = PurePosixPath(name)
    return p.suffix.lower() == ".docx" and not p.is_absolute() and ".." not in p.parts and not p.name.startswith("~$")
def put(name, blob):
    out = dest.joinpath(*PurePosixPath(name).parts); out.parent.mkdir(parents=True, exist_ok=True); out.write_bytes(blob)
n = 0
path = url.split("?", 1)[0].lower()
if zipfile.is_zipfile(io.BytesIO(data)) and not path.endswith(".docx"):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for m in z.infolist():
            if not m.is_dir() and safe(m.filename):
                put(m.filename, z.read(m)); n += 1
elif path.endswith(".docx"):
    put(PurePosixPath(path).name, data); n = 1
else:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            if m.isfile() and safe(m.name):
                put(m.name, tf.extractfile(m).read()); n += 1
print(f"fetch-specs: {n} .docx file(s) into {dest}", file=sys.stderr)
sys.exit(0 if n else "fetch-specs: no .docx file in " + url.split("?", 1)[0])
PY
    ;;
  train-adapter)
    # Compose's `train` service / the Kubernetes train Job: export the feedback, train a LoRA
    # adapter into ADAPTERS_DIR/TRAIN_ADAPTER_NAME, and load it into the running vLLM
    # (LLM_BASE_URL, with LLM_API_KEY as the bearer token).
    name="${TRAIN_ADAPTER_NAME:-specbot-lora}"
    method="${TRAIN_METHOD:-kto}"
    data="${SPECBOT_DATA_DIR:-/data}/train/$method.jsonl"
    mkdir -p "$(dirname "$data")"
    "$SPECBOT" feedback export --format "$method" --out "$data" --holdout 0.1
    exec "$SPECBOT" train "$method" --data "$data" --base "${TRAIN_BASE:-meta-llama/Meta-Llama-3-8B-Instruct}" \
      --out "${ADAPTERS_DIR:-/adapters}/$name" --name "$name" --register "${LLM_BASE_URL:-http://llm:8000/v1}" "$@"
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
    # health [URL]: exit 0 when the URL answers 2xx (the image has no curl). Without a URL,
    # the check that fits the role this container runs.
    if [ $# -eq 0 ]; then
      running="$(cat "${TMPDIR:-/tmp}/specbot-role" 2>/dev/null || echo worker)"
      case "$running" in
        bot|worker) set -- "http://127.0.0.1:${METRICS_PORT:-9100}/healthz" ;;
        llm) set -- "http://127.0.0.1:${LLM_PORT:-8000}/health" ;;
        index-loop) exec "$0" index-health ;;
        *) exit 0 ;;  # one-shot commands (index, train, ask ...): alive while they run
      esac
    fi
    url="$1"
    exec python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$url"
    ;;
  ask|search|sections|feedback|train|demo)
    exec "$SPECBOT" "$role" "$@"
    ;;
  shell)
    exec /bin/sh "$@"
    ;;
  help|-h|--help)
    echo "usage: entrypoint.sh bot|worker|index|index-loop|index-health|fetch-specs|llm|health|train-adapter|ask|search|sections|feedback|train|demo|shell [ARGS...]"
    exit 0
    ;;
  *)
    echo "entrypoint.sh: unknown role '$role' (bot|worker|index|index-loop|index-health|fetch-specs|llm|health|train-adapter|ask|search|sections|feedback|train|demo|shell)" >&2
    exit 64
    ;;
esac
