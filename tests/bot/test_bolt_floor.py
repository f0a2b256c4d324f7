"""The slack-bolt floor: older Bolt drops Socket Mode's retry number, so the redelivery guard
(``bot.redelivery``) would take every Socket Mode retry for a first delivery."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.version import Version
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.redelivery import retry_number
from tests.helpers import ROOT

FLOOR = Version("1.29")


def bolt_requirement() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [spec] = [r for r in map(Requirement, project["dependencies"]) if r.name == "slack-bolt"]
    return spec


def test_pyproject_refuses_a_bolt_older_than_the_floor() -> None:
    spec = bolt_requirement()
    assert not spec.specifier.contains("1.28.0"), spec
    assert spec.specifier.contains(str(FLOOR)), spec


def test_installed_bolt_meets_the_floor() -> None:
    assert Version(version("slack-bolt")) >= FLOOR


class RecordingApp:
    """Stands in for the AsyncApp: keeps the request Bolt's Socket Mode adapter built."""

    def __init__(self) -> None:
        self.requests: list[AsyncBoltRequest] = []

    async def async_dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        self.requests.append(request)
        return BoltResponse(status=200, body="")


async def test_socket_mode_retry_reaches_the_redelivery_guard() -> None:
    """Bolt >= 1.29 turns the envelope's ``retry_attempt`` into the header the guard reads."""
    app = RecordingApp()
    envelope = {"type": "events_api", "envelope_id": "e-1", "accepts_response_payload": False,
                "retry_attempt": 2, "retry_reason": "timeout",
                "payload": {"type": "event_callback", "event_id": "Ev1", "team_id": "T1",
                            "event": {"type": "app_mention", "text": "hi", "user": "U1", "channel": "C1"}}}
    await run_async_bolt_app(app, SocketModeRequest.from_dict(envelope))  # type: ignore[arg-type]
    [request] = app.requests
    assert retry_number(request.headers) == 2
