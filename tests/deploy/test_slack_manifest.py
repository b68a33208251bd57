"""deploy/slack-app-manifest.yaml against Slack's published app-manifest schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY

MANIFEST = DEPLOY / "slack-app-manifest.yaml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_manifest_follows_slacks_schema(manifest: dict[str, Any], schemas: Path) -> None:
    import jsonschema
    from referencing import Registry, Resource

    top = json.loads((schemas / "slack-manifest.schema.json").read_text())
    base = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema."
    registry = Registry().with_resources(
        [
            (
                base + "1.0.0.json",
                Resource.from_contents(json.loads((schemas / "slack-manifest-v1.schema.json").read_text())),
            ),
            (
                base + "2.0.0.json",
                Resource.from_contents(json.loads((schemas / "slack-manifest-v2.schema.json").read_text())),
            ),
        ]
    )
    validator = jsonschema.Draft7Validator(top, registry=registry)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors, errors
    # The schema really is applied: a misspelt scope list is rejected.
    broken = json.loads(json.dumps(manifest))
    broken["oauth_config"]["scopes"]["bot"] = "chat:write"
    assert list(validator.iter_errors(broken))


def test_users_can_dm_the_bot_and_it_reads_group_dm_threads(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"im:history", "mpim:history", "channels:history", "groups:history"} <= scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"message.im", "message.mpim", "app_mention", "reaction_added", "app_home_opened"} <= events


def test_interactivity_is_on_with_the_shortcut_the_bot_handles(manifest: dict[str, Any]) -> None:
    inter = manifest["settings"]["interactivity"]
    assert inter["is_enabled"] is True
    assert inter["request_url"] == manifest["settings"]["event_subscriptions"]["request_url"]
    shortcut = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}["ask_specbot"]
    assert (
        shortcut["type"] == "message"
        and shortcut["name"] == "Ask specbot"
        and "about this message" in shortcut["description"]
    )
    assert {"files:read", "users:read", "commands"} <= set(manifest["oauth_config"]["scopes"]["bot"])
