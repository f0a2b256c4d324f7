"""The App Home tab: gates waiting for the person (decidable from Home), their active runs,
recent runs; refreshed when their gates open or close."""

from __future__ import annotations

import json
from typing import Any

from bot.render.home import MAX_GATES, MAX_RUNS, HomeData, HomeGate, HomeRun, home_view
from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for, wait_for_gate
from tests.sandbox.control_client import Control, eventually

WAIT = 10.0


async def home(control: Control, user: str) -> dict[str, Any] | None:
    return (await control.get(f"/users/{user}/home"))["view"]


async def wait_home(control: Control, user: str, *needles: str, absent: tuple[str, ...] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def check() -> bool:
        view = found["view"] = await home(control, user)
        text = json.dumps(view["blocks"], ensure_ascii=False) if view else ""
        return view is not None and all(n in text for n in needles) and not any(a in text for a in absent)

    try:
        await eventually(check, WAIT)
    except AssertionError:
        raise AssertionError(f"{user}'s home never showed {needles} without {absent}: {found.get('view')}") from None
    return found["view"]


def section_texts(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] in ("section", "header")]


async def test_home_lists_gate_and_approving_from_home_refreshes(harness: Harness, server: SandboxServer,
                                                                 slack: Slack, control: Control,
                                                                 client: ShepherdClient) -> None:
    await control.post("/app_home_opened", {"user": "U0BOB"})
    await wait_home(control, "U0BOB", "Waiting for you", "Nothing is waiting for you.")

    await slack.command("U0ALICE", "approval-demo api approvers=@bob")  # four-eyes, Bob decides
    card = await slack.wait_card()
    gate_message = await slack.wait_gate(card["ts"])
    run_id = (await client.list_runs())[0]["id"]
    base = server.sandbox.base_url
    card_link = f"{base}/archives/C0OPS/p{card['ts'].replace('.', '')}"
    gate_link = f"{base}/archives/C0OPS/p{gate_message['ts'].replace('.', '')}?thread_ts={card['ts']}&cid=C0OPS"
    # the gate opened: Bob's home is refreshed without him reopening it, linking to the gate's message
    view = await wait_home(control, "U0BOB", "Deploy api 1.0.0?", "shepherd_approve", "shepherd_reject", gate_link)
    texts = "\n".join(section_texts(view))
    assert "Who may approve: <@U0BOB> (not the requester)" in texts
    assert f"`{run_id}`" in texts and card_link in texts  # under "Recent runs", with its card

    await control.post("/app_home_opened", {"user": "U0ALICE"})  # the requester: her run, no gate to decide
    alice = await wait_home(control, "U0ALICE", "Your active runs", f"`{run_id}`", "Nothing is waiting for you.")
    assert "shepherd_approve" not in json.dumps(alice["blocks"])

    await control.post("/actions", {"user": "U0BOB", "view_id": view["id"], "action_id": "shepherd_approve"})
    # the click is acknowledged before it is applied: wait for the decision, not for a status
    # the run already had while it waited at the gate
    gate: dict = {}

    async def decided() -> bool:
        gate.update(next(g for g in (await client.store.gates(run_id)).values() if g["kind"] == "breakpoint"))
        return gate["status"] != "open"

    await eventually(decided, 10)
    assert gate["status"] == "decided" and gate["approved"] and gate["decided_by"] == "U0BOB"
    await wait_for_gate(client, run_id)  # now on its "Release notes" question, open to anyone
    await slack.wait_card("Release notes")
    view = await wait_home(control, "U0BOB", "Release notes", "shepherd_fill_in", absent=("Deploy api 1.0.0?",))

    await control.post("/actions", {"user": "U0BOB", "view_id": view["id"], "action_id": "shepherd_fill_in"})

    async def form_opened() -> bool:
        return (await control.get("/users/U0BOB/views"))["top"] is not None

    await eventually(form_opened, 10)
    form = (await control.get("/users/U0BOB/views"))["top"]
    assert form["callback_id"] == "shepherd_answer_form"
    await control.post("/views/submit", {"user": "U0BOB", "view_id": form["id"],
                                         "values": {"field:summary": {"value": "Faster checkout"}}})
    assert (await wait_for(client, run_id)).status == "completed"
    await wait_home(control, "U0BOB", "Nothing is waiting for you.", absent=("Release notes",))


async def _gate_demo(slack: Slack, client: ShepherdClient, name: str) -> tuple[str, str]:
    """Alice starts gate-demo (a gate anyone may decide); (run id, gate message ts)."""
    await slack.command("U0ALICE", f"gate-demo {name}")
    card = await slack.wait_card()
    gate_message = await slack.wait_gate(card["ts"])
    run_id = (await client.list_runs())[0]["id"]
    await wait_for_gate(client, run_id)
    return run_id, gate_message["ts"]


async def test_reject_from_home(harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    run_id, _ = await _gate_demo(slack, client, "night")
    await control.post("/app_home_opened", {"user": "U0CAROL"})
    view = await wait_home(control, "U0CAROL", "Continue night?", "Who may approve: anyone")
    await control.post("/actions", {"user": "U0CAROL", "view_id": view["id"], "action_id": "shepherd_reject"})

    async def modal() -> bool:
        return (await control.get("/users/U0CAROL/views"))["top"] is not None

    await eventually(modal, WAIT)
    reason = (await control.get("/users/U0CAROL/views"))["top"]
    assert json.loads(reason["private_metadata"])["channel"] == "C0OPS"  # taken from the run
    await control.post("/views/submit", {"user": "U0CAROL", "view_id": reason["id"],
                                         "values": {"shepherd_reason": {"reason": "not tonight"}}})
    run = await wait_for(client, run_id)
    assert json.loads(run.meta["result"])["approved"] is False
    gate = next(iter((await client.store.gates(run_id)).values()))
    assert gate["decided_by"] == "U0CAROL" and gate["comment"] == "not tonight"
    await wait_home(control, "U0CAROL", "Nothing is waiting for you.", absent=("Continue night?",))


async def test_refusal_from_a_stale_home_reaches_the_person(harness: Harness, slack: Slack, control: Control,
                                                             client: ShepherdClient) -> None:
    run_id, gate_ts = await _gate_demo(slack, client, "late")
    await control.post("/app_home_opened", {"user": "U0CAROL"})
    view = await wait_home(control, "U0CAROL", "Continue late?")
    assert harness.bot is not None  # stop refreshing: Carol's home keeps its buttons
    harness.bot.notifier.stop()
    await harness.bot._notifier_task
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate_ts,
                                    "action_id": "shepherd_approve"})
    await wait_for(client, run_id)
    await control.post("/actions", {"user": "U0CAROL", "view_id": view["id"], "action_id": "shepherd_approve"})
    await slack.wait_ephemeral("U0CAROL", "This gate is closed: already approved by <@U0BOB>")  # in #ops


def test_home_view_is_capped() -> None:
    def run(i: int, status: str = "waiting") -> HomeRun:
        return HomeRun(f"r{i:02d}", {"title": f"Deploy {i}", "process": "deploy", "status": status,
                                     "requester": "U0ALICE", "created_at": "2026-01-01T00:00:00+00:00",
                                     "updated_at": "2026-01-01T00:05:00+00:00"},
                       link=f"https://x.slack.com/archives/C0OPS/p{i}")

    gates = [HomeGate(run(i), {"key": str(i), "title": f"Ship {i}?", "status": "open", "users": ["U0BOB"]})
             for i in range(MAX_GATES + 5)]
    view = home_view(HomeData("U0BOB", gates=gates, active=[run(i) for i in range(MAX_RUNS + 7)],
                              recent=[run(i, "completed") for i in range(MAX_RUNS)]))
    blocks = view["blocks"]
    assert view["type"] == "home" and len(blocks) < 100
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == MAX_GATES
    text = json.dumps(blocks, ensure_ascii=False)
    assert "…and 5 more" in text and "…and 7 more" in text
    assert "Ship 0?" in text and f"Ship {MAX_GATES}?" not in text
    assert "5m 00s" in text  # a finished run's elapsed time
