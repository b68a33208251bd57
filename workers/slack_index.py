"""Specs added from Slack (queue `index`): download, index, record, report in the thread.

The bot checked who shared the file (SLACK_INDEXERS) and queued an IndexJob. Here:
1. files.info, then the download with the bot token under SLACK_MAX_FILE_MB
   (specbot/slack/files.py), into a staging folder;
2. the file takes its place in `$SPECBOT_DATA_DIR/slack_specs/` under its own name;
   the previous file of that name is kept aside until the new one is indexed, and
   put back if it fails, so a bad upload never costs the good version;
3. the indexer's own `index_file` (same checks and reasons as `specbot index`); a
   document with the same name is replaced;
4. `spec_uploads` records who added what and when, with the Slack permalink the
   answers' source lines then link to;
5. the report (sections, tables, OCR'd images, failures with reasons) in the thread.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from indexer.pipeline import index_file
from indexer.store import open_index
from specbot.contracts import IndexJob
from specbot.i18n import t
from specbot.settings import get_settings
from specbot.slack.client import say, web_client
from specbot.slack.files import FileRefused, download, file_info, safe_name
from specbot.slack.views import index_report_text, ocr_images

log = logging.getLogger("specbot.worker")
FOLDER = "slack_specs"


def index_shared_file(job: IndexJob) -> dict[str, Any]:
    s = get_settings()
    client = web_client(s)
    lang = job.lang or "en"

    def reply(text: str) -> None:
        say(client, channel=job.channel, thread_ts=job.thread_ts, text=text, unfurl_links=False)

    home = (s.data_dir / FOLDER).resolve()
    staging = home / ".incoming" / uuid.uuid4().hex[:12]
    name = job.file_id
    info: dict[str, Any] = {}
    try:
        info = file_info(client, job.file_id)
        name = safe_name(str(info.get("name") or job.file_id))
        token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else ""
        fresh = download(info, token, staging, int(s.slack_max_file_mb * 1_000_000))
    except FileRefused as e:
        _record(job, name, info, status="failed", error=str(e))
        reply(t(e.key, lang, **{"name": name, **e.values}))
        shutil.rmtree(staging, ignore_errors=True)
        return {"status": "refused", "doc": name, "reason": e.key}
    try:
        report, replaced = _index_in_place(fresh, home / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record(job, name, info, status=report["status"], error=report.get("error") or None, report=report,
            replaced=replaced)  # fmt: skip
    reply(index_report_text(report, name, lang, replaced=replaced))
    log.info("spec %s from Slack: %s", name, report["status"])
    return {"status": report["status"], "doc": name, "replaced": replaced}


def _index_in_place(fresh: Path, final: Path) -> tuple[dict[str, Any], bool]:
    """Index `fresh` as `final`; keep the old `final` until the new one is in the index."""
    index = open_index()
    known = {d.doc: d for d in index.list_documents()}
    backup = final.with_name(f".{final.name}.previous")
    had_old = final.exists()
    if had_old:
        final.replace(backup)
    shutil.move(str(fresh), final)
    rep = index_file(final, index, known=known).to_json()
    if rep["status"] == "failed" and had_old:
        backup.replace(final)  # the indexed version stays, and so does its file
    elif rep["status"] == "failed":
        final.unlink(missing_ok=True)
    else:
        backup.unlink(missing_ok=True)
    return rep, rep["status"] == "indexed" and final.name in known


def _record(
    job: IndexJob,
    name: str,
    info: dict[str, Any],
    status: str,
    error: str | None = None,
    report: dict[str, Any] | None = None,
    replaced: bool = False,
) -> None:
    from feedback.interactions import record_spec_upload

    rep = report or {}
    try:
        record_spec_upload(
            doc=name,
            source="slack",
            status=status,
            added_by=job.user,
            team=job.team,
            channel=job.channel,
            file_id=job.file_id,
            permalink=info.get("permalink"),
            sections=int(rep.get("sections") or 0),
            tables=int(rep.get("tables") or 0),
            images=ocr_images(rep),
            chunks=int(rep.get("chunks") or 0),
            error=error,
            replaced=replaced,
        )
    except Exception:  # the spec is indexed (or refused) either way; the record is bookkeeping
        log.exception("could not record the spec upload of %s", name)
