"""Slack files and users through the real WebClient against the FAKE Web API
(tests/fakes/slack_fake.py; Slack cannot be reached from here): downloading a
shared spec under the size cap, uploading the chart, the cached user locale."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from slack_sdk import WebClient

from specbot.slack.files import FileRefused, download, file_info, safe_name, upload_png, user_locale
from tests.fakes.slack_fake import FakeSlack

TOKEN = "xoxb-111-222-SeCrEtBoTtOkEn"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    f = FakeSlack().start()
    yield f
    f.stop()


def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.url)


def test_download_with_the_bot_token(fake: FakeSlack, tmp_path: Path) -> None:
    body = b"PK\x03\x04" + b"x" * 5000
    f = fake.add_file("ECU spec.docx", body)
    info = file_info(client(fake), f["id"])
    path = download(info, TOKEN, tmp_path, max_bytes=10_000)
    assert path == tmp_path / "ECU spec.docx" and path.read_bytes() == body
    (call,) = fake.of("file.download")
    assert call.token == TOKEN and call.params["path"].endswith("/download/ECU%20spec.docx")
    assert [p.name for p in tmp_path.iterdir()] == ["ECU spec.docx"]  # no partial file left


def test_download_refuses_too_large_even_when_the_size_lies(fake: FakeSlack, tmp_path: Path) -> None:
    big = fake.add_file("big.docx", b"x" * 20_000)
    with pytest.raises(FileRefused) as e:
        download(file_info(client(fake), big["id"]), TOKEN, tmp_path, max_bytes=10_000)
    assert e.value.key == "index_too_large" and e.value.values["size_mb"] == "0.02"
    assert not fake.of("file.download")  # refused from files.info alone
    liar = fake.add_file("liar.docx", b"x" * 200_000, size=100)
    with pytest.raises(FileRefused) as e:
        download(file_info(client(fake), liar["id"]), TOKEN, tmp_path, max_bytes=10_000)
    assert e.value.key == "index_too_large"
    assert list(tmp_path.iterdir()) == []  # the cut-off download is not left behind


def test_download_without_token_gets_the_sign_in_page_and_says_so(fake: FakeSlack, tmp_path: Path) -> None:
    f = fake.add_file("a.docx", b"PK\x03\x04")
    with pytest.raises(FileRefused, match="sign-in page") as e:
        download(file_info(client(fake), f["id"]), "", tmp_path, max_bytes=10_000)
    assert e.value.key == "index_download_failed"
    with pytest.raises(FileRefused) as e:
        file_info(client(fake), "FNOSUCH")
    assert e.value.values["reason"] == "file_not_found"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.docx", "passwd.docx"),
        ("C:\\x\\y.docx", "y.docx"),
        ("a<b>|c.docx", "a_b__c.docx"),
        ("..", "document.docx"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_upload_png_returns_the_file_id(fake: FakeSlack) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    fid = upload_png(client(fake), png, title="Approval")
    assert fid and fake.uploads[fid] == png
    steps = ["files.getUploadURLExternal", "file.upload", "files.completeUploadExternal"]
    assert [c.method for c in fake.calls] == steps
    fake.errors["files.getUploadURLExternal"] = "not_allowed_token_type"
    assert upload_png(client(fake), png) is None  # the Home tab then shows a sparkline


def test_user_locale_is_asked_once_and_cached(fake: FakeSlack, redis_url: str) -> None:
    conn = redis.Redis.from_url(redis_url)
    fake.users["U0KIM001"] = {"id": "U0KIM001", "locale": "ko-KR"}
    assert user_locale(client(fake), conn, "U0KIM001", 3600) == "ko-KR"
    assert user_locale(client(fake), conn, "U0KIM001", 3600) == "ko-KR"
    (call,) = fake.of("users.info")
    assert call.params["include_locale"] in ("true", "1", True)
    fake.errors["users.info"] = "ratelimited"
    assert user_locale(client(fake), conn, "U0OTHER1", 3600) is None  # no locale: the question decides
    assert user_locale(client(fake), None, "U0KIM001", 3600) is None  # no cache and Slack refuses
