"""Modals built from a pydantic model: a process's inputs (or, later, an ask's form).

One input block per field, keyed ``field:<name>`` so validation errors come back inline:

* ``bool`` -> checkboxes (one "yes" box); ``Enum`` / ``Literal`` -> static_select;
* ``int`` / ``float`` -> number_input; everything else -> plain_text_input;
* a *user* field -> users_select. The rule: ``json_schema_extra={"slack": "user"}`` on the
  field, or a ``str`` field named ``user``, ``owner``, ``commander`` (or ending ``_user``).

Values already known (from the command line, or the field's default) are pre-filled. Reading
a submission gives ``key=value`` texts that ``engine.arguments`` binds and validates exactly as
it does command text, so the form and the command line accept the same things.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from bot.render.text import short
from engine.arguments import ArgumentError, Token, parse_arguments, unwrap_optional, validate_inputs

BLOCK_PREFIX = "field:"
ACTION = "value"
USER_NAMES = {"user", "owner", "commander"}
_FIELD_IN_LINE = re.compile(r"input '([A-Za-z_]\w*)")


def block_id(name: str) -> str:
    return BLOCK_PREFIX + name


def choices(annotation: Any) -> list[str] | None:
    tp = unwrap_optional(annotation)[0]
    if get_origin(tp) is Literal:
        return [str(c) for c in get_args(tp)]
    if isinstance(tp, type) and issubclass(tp, Enum):
        return [str(m.value) for m in tp]
    return None


def is_user_field(name: str, info: FieldInfo) -> bool:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("slack") == "user":
        return True
    return unwrap_optional(info.annotation)[0] is str and (name.lower() in USER_NAMES or name.lower().endswith("_user"))


def _text(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | tuple | set):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": short(value, 75)}, "value": value}


def element(name: str, info: FieldInfo, prefill: Any) -> dict[str, Any]:
    tp = unwrap_optional(info.annotation)[0]
    given = prefill is not None
    if tp is bool:
        el: dict[str, Any] = {"type": "checkboxes", "options": [_option("yes")]}
        if prefill is True:
            el["initial_options"] = [_option("yes")]
    elif (options := choices(info.annotation)) is not None:
        el = {"type": "static_select", "options": [_option(o) for o in options[:100]],
              "placeholder": {"type": "plain_text", "text": "Choose"}}
        if given and _text(prefill) in options:
            el["initial_option"] = _option(_text(prefill))
    elif is_user_field(name, info):
        el = {"type": "users_select", "placeholder": {"type": "plain_text", "text": "Choose a person"}}
        if given and _text(prefill):
            el["initial_user"] = _text(prefill)
    elif tp in (int, float):
        el = {"type": "number_input", "is_decimal_allowed": tp is float}
        if given and _text(prefill):
            el["initial_value"] = _text(prefill)
    else:
        el = {"type": "plain_text_input"}
        if given and _text(prefill):
            el["initial_value"] = _text(prefill)[:3000]
    el["action_id"] = ACTION
    return el


def form_blocks(model: type[BaseModel], prefill: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Input blocks for ``model``'s fields; ``prefill`` (coerced values by field) wins over defaults."""
    prefill = prefill or {}
    blocks = []
    for name, info in list(model.model_fields.items())[:50]:
        value = prefill.get(name)
        if value is None and not info.is_required():
            value = info.get_default(call_default_factory=True)
        block: dict[str, Any] = {"type": "input", "block_id": block_id(name),
                                 "label": {"type": "plain_text", "text": short(name.replace("_", " "), 2000)},
                                 "optional": not info.is_required() or unwrap_optional(info.annotation)[0] is bool,
                                 "element": element(name, info, value)}
        if info.description:
            block["hint"] = {"type": "plain_text", "text": short(info.description, 2000)}
        blocks.append(block)
    return blocks


def submitted_texts(model: type[BaseModel], values: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The submitted value of each field as command-line text (absent when left empty)."""
    texts: dict[str, str] = {}
    for name in model.model_fields:
        state = values.get(block_id(name), {}).get(ACTION)
        if state is None:
            continue
        kind = state.get("type")
        if kind == "checkboxes":
            texts[name] = "yes" if state.get("selected_options") else "no"
        elif kind == "static_select":
            if state.get("selected_option"):
                texts[name] = state["selected_option"]["value"]
        elif kind == "users_select":
            if state.get("selected_user"):
                texts[name] = state["selected_user"]
        elif state.get("value") not in (None, ""):
            texts[name] = state["value"]
    return texts


def read_submission(model: type[BaseModel], values: dict[str, dict[str, Any]]) -> tuple[BaseModel | None,
                                                                                        dict[str, str]]:
    """(validated model, {}) or (None, {block_id: message}) for ``response_action: errors``."""
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in submitted_texts(model, values).items():
        try:
            # A form's text is what the person typed, unescaped by Slack: kept exactly as typed.
            raw.update(parse_arguments(model, [], [Token(f"{name}={text}", len(name) + 1)]))
        except ArgumentError as exc:
            problems += exc.lines
    if not problems:
        try:
            return validate_inputs(model, raw), {}
        except ArgumentError as exc:
            problems = exc.lines
    errors: dict[str, str] = {}
    first = block_id(next(iter(model.model_fields)))
    for line in problems:
        match = _FIELD_IN_LINE.search(line)
        key = block_id(match[1]) if match and match[1] in model.model_fields else first
        errors[key] = short(f"{errors[key]}; {line}" if key in errors else line, 300)
    return None, errors
