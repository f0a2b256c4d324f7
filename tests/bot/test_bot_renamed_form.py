"""An open question in Slack survives its form's class moving to another module (issue 11 §2).

The ask records the form's stable name (``rename.roles``), the modal carries that name, and
the bot finds the form by it, in Socket Mode and over signed HTTP alike.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator

import pytest

from engine.client import ShepherdClient
from engine.registry import unregister_module
from tests.bot.conftest import Harness, Slack
from tests.bot.test_bot_ask import _ask, _open
from tests.helpers import wait_for
from tests.sandbox.control_client import Control

BEFORE = "tests.rename_examples.before"
MOVED = ("tests.rename_examples.moved.flow", "tests.rename_examples.moved.tasks", "tests.rename_examples.moved.forms")


def unload(*modules: str) -> None:
    for module in modules:
        unregister_module(module)
        sys.modules.pop(module, None)


@pytest.fixture(autouse=True)
def rename_demo() -> Iterator[None]:
    unload(BEFORE, *MOVED)
    importlib.import_module(BEFORE)
    yield
    unload(BEFORE, *MOVED)


async def test_a_question_asked_before_its_form_moved_is_answered_after(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    _, ask = await _ask(slack, "rename-demo who=U0BOB")
    run_id = (await client.list_runs())[0]["id"]
    [request] = [e for e in await client.store.read_journal(run_id) if e.get("kind") == "ask"]
    assert request["args"]["form"] == "rename.roles"

    unload(BEFORE)  # the deploy: the form's class (and the task, and the process) now live elsewhere
    importlib.import_module(MOVED[0])

    view = await _open(control, "U0BOB", ask["ts"])
    assert json.loads(view["private_metadata"])["form"] == "rename.roles"
    submitted = await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"],
                                                     "values": {"field:commander": {"value": "U0CAROL"}}})
    assert submitted["ack"] == {"response_action": "clear"}, submitted["ack"]
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    result = json.loads(run.meta["result"])
    assert result["commander"] == "U0CAROL" and result["after"] == "moved recorded after"
