"""Errors that become wire responses.

Web API failures are HTTP 200 with ``{"ok": false, "error": ...}`` (Slack's convention, and
what slack_sdk turns into ``SlackApiError``); control API failures use HTTP status codes
because tests and the console read them as plain REST.
"""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Slack Web API error code plus any extra top-level response fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> SlackError:
    """Slack's answer to malformed input: ``invalid_arguments`` with ``[ERROR]`` lines."""
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


class ControlError(Exception):
    """A control API failure: an HTTP status and a short machine-readable error."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}
