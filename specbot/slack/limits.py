"""Slack's published Block Kit limits, as a checker.

Slack rejects a message or view that breaks one of these with `invalid_blocks`
(the user then sees nothing), so every builder in specbot/slack/ is run through
`violations()` by the tests, with oversized input. The numbers are Slack's, from
docs.slack.dev (the page for each is named next to it).
"""

from __future__ import annotations

from typing import Any

# surface -> max blocks. docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks in each message,
# 100 blocks in modals or Home tabs"); reference/views/modal-views, reference/views/home-tab-views.
MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
# reference/views/modal-views
MODAL_TITLE = MODAL_SUBMIT = MODAL_CLOSE = 24
PRIVATE_METADATA = 3000
CALLBACK_ID = 255
# reference/block-kit/blocks/*: block_id on every block
BLOCK_ID = 255
# reference/block-kit/blocks/section-block
SECTION_TEXT = 3000
SECTION_FIELDS = 10
SECTION_FIELD_TEXT = 2000
# reference/block-kit/blocks/header-block
HEADER_TEXT = 150
# reference/block-kit/blocks/context-block
CONTEXT_ELEMENTS = 10
# reference/block-kit/blocks/actions-block
ACTIONS_ELEMENTS = 25
# reference/block-kit/blocks/image-block
IMAGE_ALT = 2000
IMAGE_URL = 3000
IMAGE_TITLE = 2000
# reference/block-kit/blocks/input-block
INPUT_LABEL = 2000
INPUT_HINT = 2000
# reference/block-kit/block-elements/button-element
BUTTON_TEXT = 75
ACTION_ID = 255
BUTTON_VALUE = 2000
BUTTON_URL = 3000
BUTTON_STYLES = ("primary", "danger")
# reference/block-kit/block-elements/plain-text-input-element
INPUT_PLACEHOLDER = 150
INPUT_MAX_LENGTH = 3000
# reference/block-kit/composition-objects/text-object: 1..3000 characters
TEXT_OBJECT = 3000
# reference/methods/chat.postMessage: `text` is truncated past 40,000 characters
MESSAGE_TEXT = 40_000
# Not in the reference, but enforced: chat.postMessage answers `msg_blocks_too_long` once the
# texts of all blocks add up to about 12,000-13,000 characters (slackapi/bolt-js#2509, #2867;
# the markdown-block page documents 12,000). A margin below the lowest figure reported.
MESSAGE_BLOCKS_TEXT = 11_000

KNOWN_BLOCKS = {"section", "divider", "header", "context", "actions", "image", "input", "rich_text"}
SURFACE_BLOCKS = {
    "message": KNOWN_BLOCKS - {"input"},
    "modal": KNOWN_BLOCKS,
    "home": KNOWN_BLOCKS,
}


def _text(obj: Any, where: str, limit: int, out: list[str], plain_only: bool = False) -> None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        out.append(f"{where}: not a text object")
        return
    if plain_only and obj["type"] != "plain_text":
        out.append(f"{where}: must be plain_text")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}: empty text")
    elif len(text) > min(limit, TEXT_OBJECT):
        out.append(f"{where}: {len(text)} characters > {min(limit, TEXT_OBJECT)}")


def _max(value: Any, where: str, limit: int, out: list[str]) -> None:
    if value is not None and len(str(value)) > limit:
        out.append(f"{where}: {len(str(value))} characters > {limit}")


def _element(el: dict[str, Any], where: str, out: list[str]) -> None:
    kind = el.get("type")
    _max(el.get("action_id"), f"{where}.action_id", ACTION_ID, out)
    if kind == "button":
        _text(el.get("text"), f"{where}.text", BUTTON_TEXT, out, plain_only=True)
        _max(el.get("value"), f"{where}.value", BUTTON_VALUE, out)
        _max(el.get("url"), f"{where}.url", BUTTON_URL, out)
        if el.get("style") not in (None, *BUTTON_STYLES):
            out.append(f"{where}.style: {el.get('style')!r}")
    elif kind == "plain_text_input":
        if "placeholder" in el:
            _text(el["placeholder"], f"{where}.placeholder", INPUT_PLACEHOLDER, out, plain_only=True)
        max_length = el.get("max_length", INPUT_MAX_LENGTH)
        if not 1 <= int(max_length) <= INPUT_MAX_LENGTH:
            out.append(f"{where}.max_length: {max_length}")
        _max(el.get("initial_value"), f"{where}.initial_value", int(max_length), out)
    elif kind in ("image",):
        _max(el.get("alt_text"), f"{where}.alt_text", IMAGE_ALT, out)
    elif kind in ("mrkdwn", "plain_text"):
        _text(el, where, TEXT_OBJECT, out)
    else:
        out.append(f"{where}: element type {kind!r} not checked here")


def _block(b: dict[str, Any], where: str, surface: str, out: list[str]) -> None:
    kind = b.get("type")
    if kind not in SURFACE_BLOCKS[surface]:
        out.append(f"{where}: block type {kind!r} not allowed in a {surface}")
        return
    _max(b.get("block_id"), f"{where}.block_id", BLOCK_ID, out)
    if kind == "section":
        if "text" not in b and "fields" not in b:
            out.append(f"{where}: section without text or fields")
        if "text" in b:
            _text(b["text"], f"{where}.text", SECTION_TEXT, out)
        fields = b.get("fields") or []
        if len(fields) > SECTION_FIELDS:
            out.append(f"{where}.fields: {len(fields)} > {SECTION_FIELDS}")
        for i, f in enumerate(fields):
            _text(f, f"{where}.fields[{i}]", SECTION_FIELD_TEXT, out)
        if "accessory" in b:
            _element(b["accessory"], f"{where}.accessory", out)
    elif kind == "header":
        _text(b.get("text"), f"{where}.text", HEADER_TEXT, out, plain_only=True)
    elif kind == "context":
        els = b.get("elements") or []
        if not 1 <= len(els) <= CONTEXT_ELEMENTS:
            out.append(f"{where}.elements: {len(els)} (1..{CONTEXT_ELEMENTS})")
        for i, el in enumerate(els):
            _element(el, f"{where}.elements[{i}]", out)
    elif kind == "actions":
        els = b.get("elements") or []
        if not 1 <= len(els) <= ACTIONS_ELEMENTS:
            out.append(f"{where}.elements: {len(els)} (1..{ACTIONS_ELEMENTS})")
        ids = [el.get("action_id") for el in els if el.get("action_id")]
        if len(ids) != len(set(ids)):
            out.append(f"{where}: duplicate action_id in one block")
        for i, el in enumerate(els):
            _element(el, f"{where}.elements[{i}]", out)
    elif kind == "image":
        _max(b.get("alt_text") or "", f"{where}.alt_text", IMAGE_ALT, out)
        if not b.get("alt_text"):
            out.append(f"{where}.alt_text: required")
        if ("image_url" in b) == ("slack_file" in b):
            out.append(f"{where}: exactly one of image_url and slack_file")
        _max(b.get("image_url"), f"{where}.image_url", IMAGE_URL, out)
        if "title" in b:
            _text(b["title"], f"{where}.title", IMAGE_TITLE, out, plain_only=True)
    elif kind == "input":
        _text(b.get("label"), f"{where}.label", INPUT_LABEL, out, plain_only=True)
        if "hint" in b:
            _text(b["hint"], f"{where}.hint", INPUT_HINT, out, plain_only=True)
        _element(b.get("element") or {}, f"{where}.element", out)


def blocks_text(blocks: list[dict[str, Any]]) -> int:
    """Characters of every `text` string in the blocks (what msg_blocks_too_long counts)."""
    total = 0

    def walk(x: Any) -> None:
        nonlocal total
        if isinstance(x, dict):
            for k, val in x.items():
                if k == "text" and isinstance(val, str):
                    total += len(val)
                else:
                    walk(val)
        elif isinstance(x, list):
            for item in x:
                walk(item)

    walk(blocks)
    return total


def violations(surface: str, payload: dict[str, Any] | list[dict[str, Any]], text: str | None = None) -> list[str]:
    """Every broken limit, as readable lines; [] when Slack will accept it.

    surface: "message" (payload = its blocks), "modal" or "home" (payload = the view).
    """
    out: list[str] = []
    if surface == "message":
        blocks = payload if isinstance(payload, list) else payload.get("blocks", [])
        if text is not None and not text.strip():
            out.append("message: empty fallback text")
        _max(text, "message.text", MESSAGE_TEXT, out)
        if (n := blocks_text(blocks)) > MESSAGE_BLOCKS_TEXT:
            out.append(f"message: {n} characters of block text > {MESSAGE_BLOCKS_TEXT}")
    else:
        assert isinstance(payload, dict)
        view = payload
        if view.get("type") != surface:
            out.append(f"view type {view.get('type')!r} is not {surface!r}")
        blocks = view.get("blocks") or []
        _max(view.get("private_metadata"), "view.private_metadata", PRIVATE_METADATA, out)
        _max(view.get("callback_id"), "view.callback_id", CALLBACK_ID, out)
        if surface == "modal":
            _text(view.get("title"), "view.title", MODAL_TITLE, out, plain_only=True)
            for key, limit in (("submit", MODAL_SUBMIT), ("close", MODAL_CLOSE)):
                if key in view:
                    _text(view[key], f"view.{key}", limit, out, plain_only=True)
            if any(b.get("type") == "input" for b in blocks) and "submit" not in view:
                out.append("view: a modal with an input block needs `submit`")
    if len(blocks) > MAX_BLOCKS[surface]:
        out.append(f"{surface}: {len(blocks)} blocks > {MAX_BLOCKS[surface]}")
    if not blocks and surface != "message":
        out.append(f"{surface}: no blocks")
    ids = [b.get("block_id") for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        out.append(f"{surface}: duplicate block_id")
    for i, b in enumerate(blocks):
        _block(b, f"blocks[{i}]", surface, out)
    return out
