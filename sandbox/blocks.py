"""Block Kit as Slack stores and checks it.

Slack fills in a ``block_id`` for every block and an ``action_id`` for every interactive
element an app left without one, and the click payloads carry those generated ids; the
sandbox does the same so a bot that relies on them is exercised. It also enforces the limits
that most often turn a message into ``invalid_blocks`` in production (text lengths, element
counts, duplicate ids, what a context block may hold, image ``alt_text``, placeholder and URL
lengths), so a card that would be refused by Slack is refused here too.

The rules follow Slack's reference pages:
https://api.slack.com/reference/block-kit/blocks (block fields; context holds only image
elements and text objects; image needs ``alt_text`` and ``image_url`` or ``slack_file``),
https://api.slack.com/reference/block-kit/block-elements#button (``url`` up to 3000 characters),
https://api.slack.com/reference/block-kit/composition-objects (text objects up to 3000 characters;
a ``placeholder`` is ``plain_text`` of up to 150).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sandbox.ids import new_short_id

INTERACTIVE = {
    "button", "static_select", "external_select", "users_select", "conversations_select", "channels_select",
    "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select",
    "multi_channels_select", "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes",
    "radio_buttons", "plain_text_input", "number_input", "email_text_input", "url_text_input",
    "rich_text_input", "file_input", "workflow_button",
}
STATELESS = {"button", "overflow", "workflow_button"}
"""Interactive elements that send an action but keep no value in ``state.values``."""
BLOCK_TYPES = {
    "section", "divider", "image", "actions", "context", "input", "file", "header", "video", "rich_text",
    "markdown", "call", "table", "context_actions",
}
CONTEXT_ELEMENT_TYPES = {"image", "plain_text", "mrkdwn"}
"""https://api.slack.com/reference/block-kit/blocks#context: "An array of image elements and text objects"."""
MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100
MAX_URL = 3000
MAX_PLACEHOLDER = 150
MAX_ALT_TEXT = 2000


def elements_of(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The interactive (or possibly interactive) elements one block holds, wherever Slack puts them."""
    return [element for element, _ in _element_paths(block, "")]


def _element_paths(block: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    found: list[tuple[dict[str, Any], str]] = []
    if block.get("type") in ("actions", "context_actions"):
        found += [(e, f"{path}/elements/{i}") for i, e in enumerate(block.get("elements") or []) if isinstance(e, dict)]
    if isinstance(block.get("accessory"), dict):
        found.append((block["accessory"], f"{path}/accessory"))
    if isinstance(block.get("element"), dict):
        found.append((block["element"], f"{path}/element"))
    return found


def iter_elements(blocks: list[dict[str, Any]] | None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (block, element) pair, for finding what a click or a form value refers to."""
    for block in blocks or []:
        for element in elements_of(block):
            yield block, element


def fill_ids(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Give blocks and interactive elements the ids Slack would generate for them (in place)."""
    for block in blocks or []:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = new_short_id()
        for element in elements_of(block) if isinstance(block, dict) else []:
            if element.get("type") in INTERACTIVE and not element.get("action_id"):
                element["action_id"] = new_short_id(4)
    return blocks


class _Checker:
    """Collects Slack-style problems: ``<message> [json-pointer:/blocks/0/text/text]``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.problems: list[str] = []

    def add(self, message: str, path: str) -> None:
        self.problems.append(f"{message} [json-pointer:{self.root}{path}]")

    def text(self, obj: Any, path: str, *, max_len: int, plain_only: bool = False, required: bool = True) -> None:
        if obj is None:
            if required:
                self.add("missing required field: text", path)
            return
        if not isinstance(obj, dict):
            self.add("expected object", path)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.add(f"must be one of: {', '.join(allowed)}", f"{path}/type")
        body = obj.get("text")
        if not isinstance(body, str) or not body:
            self.add("must be more than 0 characters", f"{path}/text")
        elif len(body) > max_len:
            self.add(f"must be less than {max_len + 1} characters", f"{path}/text")

    def string(self, value: Any, path: str, *, max_len: int) -> None:
        """An optional string field with a length limit (a URL, a value, alt text)."""
        if value is None:
            return
        if not isinstance(value, str):
            self.add("must be a string", path)
        elif len(value) > max_len:
            self.add(f"must be less than {max_len + 1} characters", path)

    def image(self, image: dict[str, Any], path: str) -> None:
        """An image block or image element: ``alt_text`` is required, and one source.

        https://api.slack.com/reference/block-kit/blocks#image and
        https://api.slack.com/reference/block-kit/block-elements#image
        """
        alt_text = image.get("alt_text")
        if alt_text is None:
            self.add("missing required field: alt_text", path)
        elif not isinstance(alt_text, str) or not alt_text:
            self.add("must be more than 0 characters", f"{path}/alt_text")
        else:
            self.string(alt_text, f"{path}/alt_text", max_len=MAX_ALT_TEXT)
        if image.get("image_url") is None and image.get("slack_file") is None:
            self.add("must provide either image_url or slack_file", path)
        self.string(image.get("image_url"), f"{path}/image_url", max_len=MAX_URL)

    def element(self, element: dict[str, Any], path: str) -> None:
        kind = element.get("type")
        action_id = element.get("action_id")
        if isinstance(action_id, str) and len(action_id) > 255:
            self.add("must be less than 256 characters", f"{path}/action_id")
        if element.get("placeholder") is not None:  # composition-objects: plain_text, max 150
            self.text(element["placeholder"], f"{path}/placeholder", max_len=MAX_PLACEHOLDER, plain_only=True)
        if kind == "image":
            self.image(element, path)
        elif kind == "button":
            self.text(element.get("text"), f"{path}/text", max_len=75, plain_only=True)
            value = element.get("value")
            if isinstance(value, str) and len(value) > 2000:
                self.add("must be less than 2001 characters", f"{path}/value")
            self.string(element.get("url"), f"{path}/url", max_len=MAX_URL)  # block-elements#button
            if element.get("style") not in (None, "primary", "danger"):
                self.add("must be one of: primary, danger", f"{path}/style")
        elif kind in ("static_select", "multi_static_select", "overflow", "checkboxes", "radio_buttons"):
            options = element.get("options")
            groups = element.get("option_groups")
            if options is None and groups is None:
                self.add("must provide either options or option_groups", path)
            limit = 5 if kind == "overflow" else 10 if kind in ("checkboxes", "radio_buttons") else 100
            if isinstance(options, list):
                if len(options) > limit:
                    self.add(f"must have no more than {limit} items", f"{path}/options")
                for i, option in enumerate(options):
                    self.option(option, f"{path}/options/{i}")

    def option(self, option: Any, path: str) -> None:
        if not isinstance(option, dict):
            self.add("expected object", path)
            return
        self.text(option.get("text"), f"{path}/text", max_len=75)
        value = option.get("value")
        if not isinstance(value, str) or not value:
            self.add("must be more than 0 characters", f"{path}/value")
        elif len(value) > 150:
            self.add("must be less than 151 characters", f"{path}/value")

    def context_element(self, item: Any, path: str) -> None:
        """A context block holds image elements and text objects only (no buttons, no selects)."""
        if not isinstance(item, dict):
            self.add("expected object", path)
        elif item.get("type") not in CONTEXT_ELEMENT_TYPES:
            self.add(f"unsupported type: {item.get('type')}", f"{path}/type")
        elif item["type"] == "image":
            self.image(item, path)
        else:
            self.text(item, path, max_len=3000)

    def block(self, block: Any, path: str, seen: set[str]) -> None:
        if not isinstance(block, dict):
            self.add("expected object", path)
            return
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            self.add(f"unsupported type: {kind}", f"{path}/type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255:
                self.add("must be a string of less than 256 characters", f"{path}/block_id")
            elif block_id in seen:
                self.add("duplicate block_id", f"{path}/block_id")
            else:
                seen.add(block_id)
        if kind == "section":
            fields = block.get("fields")
            if block.get("text") is None and not fields:
                self.add("must provide either text or fields", path)
            if block.get("text") is not None:
                self.text(block["text"], f"{path}/text", max_len=3000)
            if isinstance(fields, list):
                if len(fields) > 10:
                    self.add("must have no more than 10 items", f"{path}/fields")
                for i, item in enumerate(fields):
                    self.text(item, f"{path}/fields/{i}", max_len=2000)
        elif kind == "header":
            self.text(block.get("text"), f"{path}/text", max_len=150, plain_only=True)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.add("must have at least 1 item", f"{path}/elements")
            elif len(elements) > 25:
                self.add("must have no more than 25 items", f"{path}/elements")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.add("must have at least 1 item", f"{path}/elements")
            elif len(elements) > 10:
                self.add("must have no more than 10 items", f"{path}/elements")
            else:
                for i, item in enumerate(elements):
                    self.context_element(item, f"{path}/elements/{i}")
        elif kind == "image":
            self.image(block, path)
            if block.get("title") is not None:
                self.text(block["title"], f"{path}/title", max_len=2000, plain_only=True)
        elif kind == "input":
            self.text(block.get("label"), f"{path}/label", max_len=2000, plain_only=True)
            if not isinstance(block.get("element"), dict):
                self.add("missing required field: element", f"{path}/element")
        action_ids: set[str] = set()
        for element, where in _element_paths(block, path):
            self.element(element, where)
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                if action_id in action_ids:
                    self.add("duplicate action_id", f"{where}/action_id")
                action_ids.add(action_id)


def check_blocks(blocks: Any, *, root: str = "/blocks", max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Problems Slack would report for these blocks (empty when they are acceptable)."""
    checker = _Checker(root)
    if not isinstance(blocks, list):
        checker.add("expected array", "")
        return checker.problems
    if len(blocks) > max_blocks:
        checker.add(f"must have no more than {max_blocks} items", "")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, f"/{i}", seen)
    return checker.problems


def check_attachments(attachments: Any) -> list[str]:
    """Problems with secondary attachments: each an object, any ``blocks`` in it checked as blocks.

    Slack answers these with ``invalid_attachments`` and pointers into ``/attachments``
    (https://api.slack.com/methods/chat.postMessage#errors).
    """
    checker = _Checker("/attachments")
    if not isinstance(attachments, list):
        checker.add("expected array", "")
        return checker.problems
    problems = checker.problems
    for i, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            checker.add("expected object", f"/{i}")
        elif attachment.get("blocks") is not None:
            problems += check_blocks(attachment["blocks"], root=f"/attachments/{i}/blocks")
    return problems


def check_view(view: Any) -> list[str]:
    """Problems with a modal or Home tab definition, pointing into ``/view``."""
    checker = _Checker("/view")
    if not isinstance(view, dict):
        checker.add("expected object", "")
        return checker.problems
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.add("must be one of: modal, home", "/type")
    if kind == "modal":
        checker.text(view.get("title"), "/title", max_len=24, plain_only=True)
        for name in ("submit", "close"):
            if view.get(name) is not None:
                checker.text(view[name], f"/{name}", max_len=24, plain_only=True)
        has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or [])
        if has_inputs and view.get("submit") is None:
            checker.add("must provide submit when there is an input block", "/submit")
    for name, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        value = view.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            checker.add(f"must be a string of less than {limit + 1} characters", f"/{name}")
    problems = checker.problems
    problems += check_blocks(view.get("blocks"), root="/view/blocks", max_blocks=MAX_SURFACE_BLOCKS)
    return problems
