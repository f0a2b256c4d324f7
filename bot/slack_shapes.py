"""The shapes of what Slack sends, checked before Bolt or a listener reads a field.

Bolt reads a request's fields on trust: ``body["actions"][0]``, ``body["view"]["type"]``,
``"id" in body["user"]``. A signed body that breaks one of those assumptions (``actions=[]``,
a view without ``type``, a list where Slack sends an object) raised inside Bolt, answered 500
and logged a traceback. ``command_problem``, ``interaction_problem`` and ``event_problem``
check every field that Bolt's context builders, its listener matchers and our listeners read,
as Slack documents them, and name the first one that is wrong, so the door answers 400
instead. Fields nobody reads are left alone (Slack adds fields over time; refusing them would
break the bot on Slack's next change).

Payload references: https://api.slack.com/reference/interaction-payloads/block-actions,
https://api.slack.com/reference/interaction-payloads/views,
https://api.slack.com/reference/interaction-payloads/shortcuts,
https://api.slack.com/apis/connections/events-api#callback-field,
https://api.slack.com/interactivity/slash-commands#app_command_handling.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Open(BaseModel):
    """Extra fields allowed: only what is declared is checked."""

    model_config = ConfigDict(extra="allow")


class _Ref(_Open):
    """A user, channel, team or enterprise given as an object (Bolt reads its ``id``)."""

    id: str | None = None


Ref = str | _Ref | None
"""Bolt's context accepts either a bare id or an object with one."""


NEVER_NULL = ("event", "view", "response_urls")


class _Common(_Open):
    """What Bolt's context builders read from every body (``slack_bolt.request.internals``)."""

    user: Ref = None
    channel: Ref = None
    team: Ref = None
    enterprise: Ref = None
    authorizations: list[_Common] | None = None  # Bolt reads authorizations[0] like the body
    event: _Common | None = None
    message: _Common | None = None  # Bolt looks for the user, channel and thread in these too
    previous_message: _Common | None = None
    item: _Common | None = None
    assistant_thread: _Common | None = None
    view: _Open | None = None
    container: _Open | None = None
    function_data: _Open | None = None
    response_url: str | None = None
    response_urls: list[_Open] | None = None

    @model_validator(mode="before")
    @classmethod
    def _present_means_not_null(cls, data: Any) -> Any:
        """Bolt reads these whenever the key is there (``body.get("event", {}).get(...)``,
        ``body["view"].get(...)``, ``len(body["response_urls"])``): present, they must not be null."""
        if isinstance(data, dict):
            for key in NEVER_NULL:
                if key in data and data[key] is None:
                    raise ValueError(f"{key} is null")
        return data


class _Person(_Ref):
    id: str


class _Interaction(_Common):
    type: str
    user: _Person  # every interaction a person made names them; listeners read user.id


class _Action(_Open):
    action_id: str
    block_id: str | None = None
    type: str | None = None
    value: str | None = None


class BlockActions(_Interaction):
    actions: list[_Action] = Field(min_length=1)  # Bolt reads actions[0]
    trigger_id: str | None = None
    channel: _Ref | None = None  # an object in a click; the listeners read channel.id


class _State(_Open):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class InteractiveMessage(_Interaction):
    """A legacy attachment button: Bolt reads its ``actions[0]`` once it has a ``callback_id``."""

    callback_id: str
    actions: list[_Action] = Field(min_length=1)


class _View(_Open):
    id: str
    type: str
    callback_id: str
    private_metadata: str = ""
    state: _State = _State()


class ViewPayload(_Interaction):
    """``view_submission`` and ``view_closed``."""

    view: _View  # narrower than _Common's: required, with its fields


class Shortcut(_Interaction):
    """Global (``shortcut``) and message (``message_action``) shortcuts."""

    callback_id: str
    trigger_id: str | None = None


class BlockSuggestion(_Interaction):
    action_id: str


INTERACTIONS: dict[str, type[_Interaction]] = {
    "block_actions": BlockActions, "view_submission": ViewPayload, "view_closed": ViewPayload,
    "shortcut": Shortcut, "message_action": Shortcut, "block_suggestion": BlockSuggestion,
    "interactive_message": InteractiveMessage,
}
"""Types we check closely. Any other ``type`` still gets the common checks; Bolt answers it 404."""


class _Event(_Common):
    type: str


class EventCallback(_Common):
    type: str
    event_id: str | None = None
    event: _Event  # required in a callback, and typed


class UrlVerification(_Common):
    type: str
    challenge: str


class SlashCommand(_Common):
    """A form's fields are all strings already; these are the ones the listeners need."""

    command: str = Field(pattern=r"^/\S+$")
    user_id: str = Field(min_length=1)
    channel_id: str = Field(min_length=1)
    text: str = ""
    trigger_id: str | None = None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"


def _check(model: type[BaseModel], body: dict[str, Any]) -> str | None:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return _first_error(exc)
    return None


def command_problem(body: dict[str, Any]) -> str | None:
    """What is wrong with a slash command's fields, or None."""
    return _check(SlashCommand, body)


def interaction_problem(payload: Any) -> str | None:
    """What is wrong with an interaction payload (the JSON in its ``payload`` field), or None."""
    if not isinstance(payload, dict):
        return "payload: not a JSON object"
    if not isinstance(payload.get("type"), str):
        return "payload.type: missing or not a string"
    return _check(INTERACTIONS.get(payload["type"], _Interaction), payload)


def event_problem(body: Any) -> str | None:
    """What is wrong with an Events API body (JSON), or None."""
    if not isinstance(body, dict):
        return "body: not a JSON object"
    kind = body.get("type")
    if not isinstance(kind, str):
        return "type: missing or not a string"
    if kind == "url_verification":
        return _check(UrlVerification, body)
    if kind == "event_callback":
        return _check(EventCallback, body)
    return _check(_Common, body)
