"""Permissions from the operators' file (SHEPHERD_PERMISSIONS): who may start what and where,
default approvers for gates that name nobody, four-eyes forced on; a bad file stops startup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.client import ShepherdClient
from engine.policy import GatePolicy
from engine.settings import Settings
from sandbox import SandboxServer
from shepherd.cli import main as shepherd_main
from shepherd.discovery import load_processes
from shepherd.serve import serve
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for, wait_for_gate
from tests.sandbox.control_client import Control, eventually

PERMISSIONS = """
processes:
  "*":                      # every process not named below: from #ops or #general only
    start:
      channels: [C0OPS, C0GENERAL]
  gate-demo:
    start:
      users: [U0ALICE, U0BOB]
      groups: [S0SRE]
      channels: [C0OPS]
    approvers:
      groups: [S0SRE]
    gates:
      "Continue demo?":
        four_eyes: true
  approval-demo:
    start:
      groups: [S0SRE]
"""

STARTED = "Started"

load_processes(str(Path(__file__).parents[1] / "retry_examples"))  # retry-linear: fails until told not to


@pytest.fixture(autouse=True)
def permissions_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both the bot's settings and the worker's read SHEPHERD_PERMISSIONS, like `shepherd serve`."""
    path = tmp_path / "permissions.yaml"
    path.write_text(PERMISSIONS)
    monkeypatch.setenv("SHEPHERD_PERMISSIONS", str(path))
    return path


def click(user: str, ts: str) -> dict[str, str]:
    return {"user": user, "channel": "C0OPS", "ts": ts, "action_id": "shepherd_approve"}


async def test_start_refused_by_user_group_and_channel_rules(harness: Harness, slack: Slack, control: Control,
                                                             client: ShepherdClient) -> None:
    await slack.command("U0MALLORY", "gate-demo")  # not listed, not in @sre
    await slack.wait_ephemeral("U0MALLORY", "Only <@U0ALICE>, <@U0BOB> or members of <!subteam^S0SRE> may start "
                                            "`gate-demo` in <#C0OPS>")
    deploys = Slack(control, "C0DEPLOYS")
    await deploys.command("U0ALICE", "gate-demo")  # the right person in the wrong channel
    await deploys.wait_ephemeral("U0ALICE", "`gate-demo` can only be started in <#C0OPS>")
    await deploys.command("U0MALLORY", "echo-inputs hi")  # the "*" entry: channels only
    await deploys.wait_ephemeral("U0MALLORY", "`echo-inputs` can only be started in <#C0OPS> or <#C0GENERAL>")
    assert await client.list_runs() == []
    assert not [t for t in await slack.ephemerals("U0MALLORY") + await slack.ephemerals("U0ALICE") if STARTED in t]

    await slack.command("U0CAROL", "gate-demo x")  # allowed as a member of @sre (asked of Slack)
    await slack.wait_ephemeral("U0CAROL", "Started *Gate demo*")
    await slack.command("U0MALLORY", "echo-inputs hi")  # anyone, in #ops
    await slack.wait_ephemeral("U0MALLORY", "Started *Echo inputs*")
    runs = await client.list_runs()
    assert sorted((r["process"], r["requester"]) for r in runs) == [("echo-inputs", "U0MALLORY"),
                                                                    ("gate-demo", "U0CAROL")]


async def test_start_form_submission_is_checked_again(harness: Harness, server: SandboxServer, slack: Slack,
                                                      control: Control, client: ShepherdClient) -> None:
    await slack.command("U0MALLORY", "approval-demo")  # refused before any form opens
    await slack.wait_ephemeral("U0MALLORY", "Only members of <!subteam^S0SRE> may start `approval-demo`")
    assert (await control.get("/users/U0MALLORY/views"))["top"] is None

    await slack.command("U0CAROL", "approval-demo")  # a member: the form for the missing service opens
    async def opened() -> bool:
        return (await control.get("/users/U0CAROL/views"))["top"] is not None

    await eventually(opened, 10)
    view = (await control.get("/users/U0CAROL/views"))["top"]
    sre = server.sandbox.workspace.usergroups["S0SRE"]
    sre.users = [u for u in sre.users if u != "U0CAROL"]  # an admin removes her from @sre meanwhile
    result = await control.post("/views/submit", {"user": "U0CAROL", "view_id": view["id"],
                                                  "values": {"field:service": {"value": "api"}}})
    assert result["ack"]["response_action"] == "clear", result["ack"]
    await slack.wait_ephemeral("U0CAROL", "Only members of <!subteam^S0SRE> may start `approval-demo`")
    assert await client.list_runs() == []
    assert not [t for t in await slack.ephemerals("U0CAROL") if STARTED in t]


async def _gate(slack: Slack, client: ShepherdClient, user: str, text: str) -> tuple[str, dict, str]:
    await slack.command(user, text)
    await slack.wait_ephemeral(user, STARTED)
    card = await slack.wait_card()
    message = await slack.wait_gate(card["ts"])
    run_id = (await client.list_runs())[0]["id"]
    return run_id, await wait_for_gate(client, run_id), message["ts"]


async def test_default_approvers_applied_and_enforced(harness: Harness, slack: Slack, control: Control,
                                                      client: ShepherdClient) -> None:
    run_id, gate, gate_ts = await _gate(slack, client, "U0ALICE", "gate-demo x")  # gate "Continue x?"
    assert gate["groups"] == ["S0SRE"] and gate["users"] == [] and gate["four_eyes"] is False
    assert "Who may approve: <!subteam^S0SRE>" in json.dumps((await slack.message(gate_ts))["blocks"])
    # what the process asked for stays in the journal: the defaults live in the gate record only
    request = next(e for e in await client.store.read_journal(run_id) if e["type"] == "effect_requested"
                   and e["kind"] == "breakpoint")
    assert "groups" not in request["args"]

    await control.post("/actions", click("U0MALLORY", gate_ts))
    await slack.wait_ephemeral("U0MALLORY", "You are not one of the approvers of this gate (<!subteam^S0SRE>)")
    await control.post("/actions", click("U0ALICE", gate_ts))
    await slack.wait_ephemeral("U0ALICE", "You are not one of the approvers")
    assert (await wait_for_gate(client, run_id))["status"] == "open"
    await control.post("/actions", click("U0BOB", gate_ts))  # a default approver (member of @sre)
    run = await wait_for(client, run_id)
    assert run.status == "completed" and json.loads(run.meta["result"])["by"] == "U0BOB"


async def test_four_eyes_forced_by_settings(harness: Harness, slack: Slack, control: Control,
                                            client: ShepherdClient) -> None:
    run_id, gate, gate_ts = await _gate(slack, client, "U0BOB", "gate-demo")  # gate "Continue demo?"
    assert gate["four_eyes"] is True and gate["groups"] == ["S0SRE"]
    await control.post("/actions", click("U0BOB", gate_ts))  # an approver, but the requester
    await slack.wait_ephemeral("U0BOB", "Four-eyes gate")
    assert (await wait_for_gate(client, run_id))["status"] == "open"
    await control.post("/actions", click("U0CAROL", gate_ts))
    run = await wait_for(client, run_id)
    assert json.loads(run.meta["result"])["by"] == "U0CAROL"


async def test_retry_needs_start_permission(harness: Harness, slack: Slack, client: ShepherdClient,
                                            permissions_file: Path) -> None:
    await slack.command("U0ALICE", "retry-linear")  # the "*" entry: anyone in #ops
    await slack.wait_ephemeral("U0ALICE", STARTED)
    run_id = (await client.list_runs())[0]["id"]
    await wait_for(client, run_id, "failed")
    # the operators restrict retry-linear to Bob, and restart the bot
    permissions_file.write_text(PERMISSIONS + "  retry-linear:\n    start: {users: [U0BOB]}\n")
    await harness.stop()
    await harness.start()
    await slack.command("U0ALICE", f"retry {run_id}")
    await slack.wait_ephemeral("U0ALICE", "Only <@U0BOB> may start `retry-linear`")
    assert (await client.view(run_id)).status == "failed"
    assert not [t for t in await slack.ephemerals("U0ALICE") if "Retrying" in t]


def test_policy_never_weakens_what_the_process_declares() -> None:
    policy = GatePolicy.model_validate({"processes": {
        "deploy": {"approvers": {"users": ["U0BOB"]}, "four_eyes": False,
                   "gates": {"Ship it?": {"approvers": {"groups": ["S0SRE"]}}, "late": {"four_eyes": True}}},
        "*": {"four_eyes": True}}})
    declared = {"kind": "breakpoint", "key": "3", "title": "Ship it?", "users": ["U0CAROL"], "four_eyes": True}
    assert policy.apply("deploy", declared) == declared  # own approvers kept; four-eyes stays on
    bare = {"kind": "breakpoint", "key": "3", "title": "Ship it?"}
    assert policy.apply("deploy", bare) == {**bare, "groups": ["S0SRE"]}  # the gate's rule beats the process's
    assert policy.apply("deploy", {**bare, "title": "Other"}) == {**bare, "title": "Other", "users": ["U0BOB"]}
    assert policy.apply("deploy", {**bare, "key": "late"})["four_eyes"] is True  # matched by key
    assert policy.apply("other", bare) == {**bare, "four_eyes": True}  # "*" forces four-eyes elsewhere
    ask = {"kind": "ask", "key": "4", "title": "Ship it?"}
    assert policy.apply("deploy", ask) == ask


async def test_bad_permissions_file_stops_serve(permissions_file: Path, settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    permissions_file.write_text("processes:\n  gate-demo:\n    start: {groups: ['@sre']}\n    aprovers: {}\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    assert await serve(settings) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: SHEPHERD_PERMISSIONS file {permissions_file}: "
                     "processes.gate-demo.start.groups.0: '@sre' is not a Slack user group id (S…, not a @handle); "
                     "processes.gate-demo.aprovers: unknown key"]
    permissions_file.write_text("processes: [unclosed\n")
    assert await serve(settings) == 2
    assert "not valid YAML at line 2" in capsys.readouterr().err


def test_bad_permissions_file_stops_worker(permissions_file: Path, redis_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    permissions_file.write_text("processes:\n  gate-demo:\n    approvers: {users: ['two words']}\n")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SHEPHERD_DATA_DIR", str(tmp_path))
    assert shepherd_main(["worker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: SHEPHERD_PERMISSIONS file {permissions_file}: "
                       "processes.gate-demo.approvers.users.0: 'two words' is not a Slack user id (U…)")
