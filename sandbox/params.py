"""Web API arguments, however the client sent them.

slack_sdk sends some methods as JSON bodies (chat.postMessage, views.*), others as query
parameters on a POST or GET (conversations.*, files.*), and form posts carry structured
fields (``blocks``, ``view``, ``files``) as JSON strings. Handlers see one merged mapping and
typed accessors that reproduce Slack's leniencies (``"true"``/``"1"``) and its refusals.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.errors import SlackError, invalid_arguments

_TRUE = {"1", "true", "yes", "on"}


async def read_arguments(request: web.Request) -> dict[str, Any]:
    """Merge query string and body (form or JSON); the body wins on conflicts."""
    args: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return args
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SlackError("invalid_json") from exc
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        args.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


class Args:
    """Typed, Slack-flavoured access to one call's arguments."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def opt(self, name: str, *, required: bool = False, error: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise SlackError(error) if error else invalid_arguments(f"missing required field: {name}")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid_arguments(f"{name} must be a string")
        return str(value)

    def req(self, name: str, error: str | None = None) -> str:
        value = self.opt(name, required=True, error=error)
        assert value is not None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE

    def integer(self, name: str, default: int) -> int:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise invalid_arguments(f"{name} must be an integer") from exc

    def json(self, name: str, error: str = "invalid_arguments") -> Any:
        """A structured field: already decoded in a JSON body, a JSON string in a form or query."""
        value = self.data.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise SlackError(error, response_metadata={"messages": [f"[ERROR] {name} is not valid JSON"]}) \
                    from exc
        return value

    def csv(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [v.strip() for v in str(value).split(",") if v.strip()]
