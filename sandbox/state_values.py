"""Form values in Slack's per-element shapes.

A test says ``{"approvers": {"pick": "U0BOB"}}``; the app must receive what Slack sends:
``{"type": "users_select", "selected_user": "U0BOB"}``, a select's full option object with its
text, a checkbox list, a number input's value as a string. The element's type (and options)
come from the view or message being acted on, exactly as Slack derives them. The checks
Slack's own client makes before it lets a person submit (required fields, lengths, number
ranges) are here too, so a submission the real client would block is blocked.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sandbox.blocks import STATELESS, iter_elements

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ValueProblem(ValueError):
    """A value the element cannot hold (an option it does not offer, a non-list for checkboxes)."""


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found.extend(group.get("options") or [])
    return found


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return copy.deepcopy(value)
    for option in options_of(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    if element.get("type") in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}
    offered = [o.get("value") for o in options_of(element)]
    raise ValueProblem(f"{element.get('action_id')}: {value!r} is not one of the options {offered}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def selection(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """The type-specific fields for ``value`` chosen in ``element`` (``None`` means left empty)."""
    kind = element.get("type")
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        return {"value": None if value in (None, "") else str(value)}
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        return {"selected_option": None if value in (None, "") else _option(element, value)}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return {"selected_options": [_option(element, v) for v in _as_list(value)]}
    single = {"users_select": "selected_user", "conversations_select": "selected_conversation",
              "channels_select": "selected_channel", "datepicker": "selected_date", "timepicker": "selected_time",
              "datetimepicker": "selected_date_time"}
    if kind in single:
        return {single[kind]: None if value in (None, "") else value}
    multi = {"multi_users_select": "selected_users", "multi_conversations_select": "selected_conversations",
             "multi_channels_select": "selected_channels"}
    if kind in multi:
        return {multi[kind]: [str(v) for v in _as_list(value)]}
    if kind == "rich_text_input":
        text = "" if value is None else str(value)
        return {"rich_text_value": {"type": "rich_text", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}}
    return {"value": value}


def initial_value(element: dict[str, Any]) -> Any:
    """What an untouched element holds: its ``initial_*`` field, or nothing."""
    for name in ("initial_value", "initial_user", "initial_conversation", "initial_channel", "initial_date",
                 "initial_time", "initial_date_time", "initial_users", "initial_conversations", "initial_channels"):
        if name in element:
            return element[name]
    if "initial_option" in element:
        return element["initial_option"].get("value")
    if "initial_options" in element:
        return [o.get("value") for o in element["initial_options"]]
    return None


def build_state(blocks: list[dict[str, Any]] | None, values: dict[str, dict[str, Any]],
                previous: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """``view.state.values`` after a person filled in ``values`` ({block_id: {action_id: value}}).

    Every input element appears, as in Slack: those not mentioned keep their previous or
    initial value (or an empty one). Stateful elements outside input blocks (a select in an
    actions block) appear once they hold something. Unknown ids raise ValueProblem.
    """
    stateful = [(b, e) for b, e in iter_elements(blocks) if e.get("type") not in STATELESS]
    known = {(b.get("block_id"), e.get("action_id")) for b, e in stateful}
    for block_id, actions in values.items():
        for action_id in actions:
            if (block_id, action_id) not in known:
                raise ValueProblem(f"no stateful element {block_id}/{action_id} here; known: {sorted(known)}")
    previous = previous or {}
    state: dict[str, dict[str, Any]] = {}
    for block, element in stateful:
        block_id, action_id = block["block_id"], element["action_id"]
        given = values.get(block_id, {})
        if action_id in given:
            entry = {"type": element.get("type"), **selection(element, given[action_id])}
        elif action_id in previous.get(block_id, {}):
            entry = previous[block_id][action_id]
        elif block.get("type") == "input" or initial_value(element) is not None:
            entry = {"type": element.get("type"), **selection(element, initial_value(element))}
        else:
            continue
        state.setdefault(block_id, {})[action_id] = entry
    return state


def _is_empty(entry: dict[str, Any]) -> bool:
    picked = [v for k, v in entry.items() if k != "type"]
    return all(v in (None, "", []) for v in picked)


def client_problems(blocks: list[dict[str, Any]] | None, state: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What Slack's client would flag before submitting ({block_id: message}); empty means it submits."""
    problems: dict[str, str] = {}
    for block, element in iter_elements(blocks):
        if block.get("type") != "input":
            continue
        entry = state.get(block["block_id"], {}).get(str(element.get("action_id")), {})
        value = entry.get("value")
        if _is_empty(entry):
            if not block.get("optional"):
                problems[block["block_id"]] = "Please fill out this field."
            continue
        kind = element.get("type")
        if kind == "plain_text_input" and isinstance(value, str):
            if len(value) < int(element.get("min_length", 0)):
                problems[block["block_id"]] = f"Please enter at least {element['min_length']} characters."
            elif len(value) > int(element.get("max_length", 3000)):
                problems[block["block_id"]] = f"Please enter no more than {element.get('max_length', 3000)} characters."
        elif kind == "number_input" and isinstance(value, str):
            problem = _number_problem(element, value)
            if problem:
                problems[block["block_id"]] = problem
        elif kind == "email_text_input" and isinstance(value, str) and not _EMAIL.match(value):
            problems[block["block_id"]] = "Please enter a valid email address."
        elif kind == "url_text_input" and isinstance(value, str) and not re.match(r"^https?://\S+$", value):
            problems[block["block_id"]] = "Please enter a valid URL."
    return problems


def _number_problem(element: dict[str, Any], value: str) -> str | None:
    decimal_ok = bool(element.get("is_decimal_allowed"))
    pattern = r"^-?\d+(\.\d+)?$" if decimal_ok else r"^-?\d+$"
    if not re.match(pattern, value.strip()):
        return "Please enter a number." if decimal_ok else "Please enter a whole number."
    number = float(value)
    if "min_value" in element and number < float(element["min_value"]):
        return f"Please enter a number no less than {element['min_value']}."
    if "max_value" in element and number > float(element["max_value"]):
        return f"Please enter a number no greater than {element['max_value']}."
    return None
