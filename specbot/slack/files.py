"""Slack files and users: download a shared spec, upload the Home-tab chart, a user's locale.

- `download()`: files.info, then `url_private_download` with the bot token (Slack
  wants `Authorization: Bearer xoxb-…`; without it Slack answers 200 with an HTML
  sign-in page, which is caught here). The size cap holds twice: files.info's
  `size` is checked first, and the stream is cut as soon as it passes the cap,
  whatever the file claimed. The file lands under its own (sanitised) name, written
  beside and renamed, so a half-downloaded file is never indexed.
- `upload_png()`: files.uploadV2 (getUploadURLExternal, the upload, completeUploadExternal).
- `user_locale()`: users.info with include_locale, cached in Redis.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from specbot.errors import SpecbotError

log = logging.getLogger("specbot.slack")
LOCALE_KEY = "specbot:slack:locale:{user}"
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


class FileRefused(SpecbotError):
    """A shared file that will not be indexed; `key`/`values` name the catalog text for the user."""

    def __init__(self, key: str, message: str, **values: Any) -> None:
        super().__init__(message)
        self.key = key
        self.values = values


def safe_name(name: str) -> str:
    """The file's own name (documents are keyed by it), without any path or control characters."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return base or "document.docx"


def file_info(client: WebClient, file_id: str) -> dict[str, Any]:
    try:
        return dict(client.files_info(file=file_id)["file"])
    except SlackApiError as e:
        err = str(e.response.get("error"))
        raise FileRefused("index_download_failed", f"files.info: {err}", reason=err) from None


def download(info: dict[str, Any], token: str, dest_dir: Path, max_bytes: int, timeout_s: float = 60.0) -> Path:
    """Download a Slack file under the size cap; the path of the complete file."""
    name = safe_name(str(info.get("name") or info.get("title") or ""))
    limit_mb = f"{max_bytes / 1e6:g}"
    size = int(info.get("size") or 0)
    if size > max_bytes:
        raise FileRefused("index_too_large", f"{name}: {size} bytes > {max_bytes}", name=name,
                          size_mb=f"{size / 1e6:.3g}", limit_mb=limit_mb)  # fmt: skip
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise FileRefused("index_download_failed", f"{name}: no download URL", name=name, reason="no download URL")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / name
    tmp = dest.with_name(f".{name}.{uuid.uuid4().hex[:8]}.part")
    got = 0
    try:
        with (
            httpx.stream(
                "GET",
                url,
                headers={"Authorization": f"Bearer {token}"} if token else {},
                timeout=timeout_s,
                follow_redirects=True,
            ) as r,  # fmt: skip
            open(tmp, "wb") as out,
        ):
            if r.status_code != 200:
                raise FileRefused("index_download_failed", f"{name}: HTTP {r.status_code}", name=name,
                                  reason=f"HTTP {r.status_code}")  # fmt: skip
            if r.headers.get("content-type", "").startswith("text/html"):
                # Slack's sign-in page: the token was refused or lacks files:read.
                raise FileRefused("index_download_failed", f"{name}: Slack sent a sign-in page", name=name,
                                  reason="the bot may not read files (files:read scope)")  # fmt: skip
            for block in r.iter_bytes(1 << 16):
                got += len(block)
                if got > max_bytes:
                    raise FileRefused("index_too_large", f"{name}: more than {max_bytes} bytes", name=name,
                                      size_mb=f">{max_bytes / 1e6:g}", limit_mb=limit_mb)  # fmt: skip
                out.write(block)
        tmp.replace(dest)
    except httpx.HTTPError as e:
        raise FileRefused("index_download_failed", f"{name}: {type(e).__name__}", name=name,
                          reason=type(e).__name__) from None  # fmt: skip
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def upload_png(client: WebClient, png: bytes, filename: str = "approval.png", title: str = "") -> str | None:
    """Upload an image privately (no channel) for an image block; its file ID, or None if Slack refused."""
    try:
        resp = client.files_upload_v2(content=png, filename=filename, title=title or filename)
    except Exception as e:  # the Home tab falls back to a text sparkline
        err = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
        log.warning("files.uploadV2 failed (%s); showing a sparkline instead", err)
        return None
    f = resp.get("file") or (resp.get("files") or [{}])[0]
    return str(f.get("id")) if f.get("id") else None


def user_locale(client: WebClient, conn: redis.Redis | None, user: str, ttl_s: int) -> str | None:
    """The user's Slack locale (`ko-KR`), from users.info; cached so a busy user costs one call a day."""
    key = LOCALE_KEY.format(user=user)
    if conn is not None:
        try:
            cached = conn.get(key)
            if cached is not None:
                v = cached.decode() if isinstance(cached, bytes) else str(cached)
                return v or None
        except redis.RedisError:
            conn = None  # no cache: ask Slack
    try:
        locale = str(client.users_info(user=user, include_locale=True)["user"].get("locale") or "")
    except Exception as e:  # without a locale the question's language decides
        log.warning("users.info failed: %s", e.response.get("error") if isinstance(e, SlackApiError) else type(e))
        return None
    if conn is not None:
        with contextlib.suppress(redis.RedisError):  # uncached is fine
            conn.set(key, locale, ex=ttl_s)
    return locale or None
