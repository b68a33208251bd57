"""Errors that the CLI turns into one clear line instead of a traceback."""


class SpecbotError(Exception):
    pass


# Import name -> what to install, where the two differ or the package comes with an extra.
_INSTALL = {
    "slack_bolt": "slack-bolt",
    "slack_sdk": "slack-sdk",
    "weaviate": "weaviate-client",
    "docx": "python-docx",
    "psycopg": "'psycopg[binary]'",
    "prometheus_client": "prometheus-client",
    "pydantic_settings": "pydantic-settings",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "trl": "'specbot[train]'",
    "peft": "'specbot[train]'",
    "datasets": "'specbot[train]'",
    "vllm": "'specbot[cpu]' (CPU) or 'specbot[gpu]'",
    "torch": "'specbot[cpu]'",
    "sentence_transformers": "'specbot[embedder]'",
    "lancedb": "'specbot[embedded-index]' (or set WEAVIATE_URL)",
    "pyarrow": "'specbot[embedded-index]' (or set WEAVIATE_URL)",
}
_OWN = ("specbot", "bot", "workers", "indexer", "feedback")


def missing_dependency(command: str, e: ImportError) -> SpecbotError:
    """One actionable line for an import that failed: which package, and how to install it."""
    name = (e.name or "").split(".")[0]
    if not name:
        return SpecbotError(f"`specbot {command}` cannot import what it needs ({e}); reinstall specbot")
    if name in _OWN:
        return SpecbotError(f"`specbot {command}`: specbot's own module {e.name!r} is missing; reinstall specbot")
    pkg = _INSTALL.get(name, name.replace("_", "-"))
    return SpecbotError(
        f"`specbot {command}` needs the Python package {name!r}, which is not installed; "
        f"install it with: pip install {pkg}"
    )
