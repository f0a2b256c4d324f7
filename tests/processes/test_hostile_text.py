"""What people type can neither ping a channel nor plant a disguised link (issue 10, item 1).

Every free-text input of the four shipped processes is typed as ``@channel db down
<https://evil.example|Approve here>`` (and friends), through both transports, with the sandbox
escaping command text as Slack does (``should_escape``). Afterwards no message, thread line,
ephemeral, App Home or channel topic anywhere in the workspace would notify anyone but the
people named in user fields (the sandbox's ``notifies`` mark), and none holds a live link to
evil.example: the text is there, escaped, showing exactly what was typed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.processes.conftest import needs_promtool
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    People,
    control,
    harness,
    server,
    slack,
    worker_slack,
)
from tests.sandbox.control_client import Control, eventually

HOSTILE = "@channel db down <https://evil.example|Approve here>"
TYPED = '"@channel db down <https://evil.example|Approve here>"'  # as typed after /run, quoted
SHOWN = "@channel db down &lt;https://evil.example|Approve here&gt;"  # the same, as mrkdwn shows it
FORM = "<!channel> <!here> <@U0MALLORY> <https://evil.example|Approve here> & more"
"""Typed into a modal, where Slack escapes nothing: Slack's own syntax, character for character."""
PEOPLE = {"U0ALICE", "U0BOB", "U0CAROL"}
"""Everyone a run may mention: the requester and the people given in user fields."""
WAIT = 20.0


def _live(text: str) -> list[str]:
    """Slack syntax that would ping a crowd or show a disguised link, found in raw mrkdwn."""
    return [bad for bad in ("<!channel", "<!here", "<!everyone", "<!subteam", "<@U0MALLORY", "<https://evil")
            if bad in text]


async def assert_harmless(ctl: Control, *, users: tuple[str, ...] = ("U0ALICE", "U0BOB", "U0CAROL"),
                          allowed: frozenset[str] = frozenset(PEOPLE)) -> None:
    problems: list[str] = []
    for channel in (await ctl.get("/channels"))["channels"]:
        topic, where = channel.get("topic", {}).get("value", ""), channel.get("name", channel["id"])
        problems += [f"topic of #{where}: {bad}" for bad in _live(topic)]
        got = await ctl.get(f"/channels/{channel['id']}/messages", include_replies="1")
        for message in got["messages"]:
            shown = json.dumps([message.get("text"), message.get("blocks"), message.get("attachments")])
            if set(message["notifies"]) - allowed or _live(shown.replace("<!subteam^S0SRE>", "")
                                                           if "subteam^S0SRE" in allowed else shown):
                problems.append(f"#{where} {message['ts']}: notifies {message['notifies']}, {shown[:300]}")
    for user in users:
        for item in (await ctl.get(f"/users/{user}/ephemerals"))["ephemerals"]:
            shown = json.dumps([item["text"], item["blocks"], item["attachments"]])
            if set(item["notifies"]) - PEOPLE or _live(shown):
                problems.append(f"ephemeral to {user}: notifies {item['notifies']}, {shown[:300]}")
        home = (await ctl.get(f"/users/{user}/home")).get("view") or {}
        problems += [f"App Home of {user}: {bad}" for bad in _live(json.dumps(home))]
    assert not problems, "\n".join(problems)


async def _home_shows(ctl: Control, user: str, needle: str) -> None:
    async def check() -> bool:
        return needle in json.dumps((await ctl.get(f"/users/{user}/home")).get("view") or {})

    await eventually(check, WAIT)


async def test_incident_response_free_text_pings_nobody(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                                        client: ShepherdClient, worker_slack: object,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN", "GITHUB_TOKEN", "SHEPHERD_INCIDENT_GITHUB_REPO"):
        monkeypatch.delenv(name, raising=False)
    people = People(slack, control, client)
    await control.post("/app_home_opened", {"user": "U0BOB"})  # Bob's Home is kept up to date from now on
    run_id = await people.declare("U0ALICE", f"incident-response SEV-4 title={TYPED} service=\"@here <x>\" "
                                             "commander=@bob customer_facing=yes")
    inputs = (await client.store.read_journal(run_id))[0]["inputs"]
    assert inputs["title"] == HOSTILE and inputs["service"] == "@here <x>"  # received as typed
    assert inputs["commander"] == "U0BOB"  # the one mention: a user field, validated

    await people.answer("U0BOB", "who takes which role", {"commander": "U0BOB", "tech_lead": "U0CAROL"})
    first = await people.open_message("is the impact mitigated?", "shepherd_reject")
    await people.reject("U0BOB", "is the impact mitigated?", FORM)

    again: list[str] = []

    async def asked_again() -> bool:  # the rejected gate is asked again, as a new message
        again[:] = [m["ts"] for m in await slack.thread(people.card_ts) if m["ts"] != first["ts"]
                    and "is the impact mitigated?" in json.dumps(m) and "shepherd_approve" in json.dumps(m)]
        return bool(again)

    await eventually(asked_again, WAIT)
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": again[0],
                                    "action_id": "shepherd_approve"})
    await people.approve("U0BOB", "resolve the incident?")
    await people.answer("U0BOB", "postmortem details", {"summary": FORM, "impact": HOSTILE})
    await people.answer("U0BOB", "action item #1", {"title": FORM, "owner": "U0CAROL", "due": "2030-01-31"})
    await people.reject("U0CAROL", "revision 1", FORM)
    await _home_shows(control, "U0BOB", "reviewer said: &lt;!channel&gt;")  # the ask, on Bob's App Home
    await assert_harmless(control)
    await people.answer("U0BOB", "reviewer said", {"summary": HOSTILE, "impact": HOSTILE})
    await people.approve("U0CAROL", "revision 2")
    run = await wait_for(client, run_id, timeout=WAIT)
    assert run.status == "completed", run.meta.get("error")

    # The words arrived intact everywhere, shown as typed: in the card, the thread and the incident channel.
    assert "@channel db down &lt;https:" in json.dumps((await slack.card() or {}).get("blocks"))
    thread = json.dumps(await slack.thread(people.card_ts))
    assert SHOWN in thread and "&lt;!channel&gt; &lt;!here&gt; &lt;@U0MALLORY&gt;" in thread
    incident = next(c for c in (await control.get("/channels"))["channels"] if c.get("name", "").startswith("inc-"))
    assert SHOWN in incident["topic"]["value"]
    posts = json.dumps((await control.get(f"/channels/{incident['id']}/messages"))["messages"])
    assert f"declared by <@U0ALICE>: {SHOWN} (service @here &lt;x&gt;)" in posts
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U0MALLORY&gt; &lt;https://evil.example|Approve here&gt; &amp; more" \
        in posts  # the action item, as Bob typed it
    await assert_harmless(control)


REFUSED = [
    # (command text after /run, what the one-line refusal says): the typed value is echoed, escaped
    (f"slo-setup service={TYPED} target=99.9", "input 'service': must be letters"),
    (f"slo-setup service=checkout target=99.9 rules_path={TYPED}", "input 'rules_path'"),
    (f"slo-review service=checkout target=99.9 threshold={TYPED}", "input 'threshold'"),
    (f"slo-review service=checkout target=99.9 window={TYPED}", "input 'window': expected a duration"),
    (f"incident-stats since={TYPED}", "input 'since': expected a duration"),
    (f"incident-stats severity={TYPED}", "input 'severity': expected one of"),
    (f"incident-response SEV-2 title={TYPED * 3}", "input 'title'"),
    (f"{TYPED} x=1", "Unknown process '@channel db down &lt;https://evil.example|Approve here&gt;'"),
]


async def test_refusals_quote_what_was_typed_and_ping_nobody(harness: Harness, slack: Slack,  # noqa: F811
                                                             control: Control,  # noqa: F811
                                                             client: ShepherdClient) -> None:
    for number, (text, needle) in enumerate(REFUSED, start=1):
        await slack.command("U0ALICE", text)

        async def replied(n: int = number) -> bool:
            return len(await slack.ephemerals("U0ALICE")) >= n

        await eventually(replied, WAIT)
        reply = (await slack.ephemerals("U0ALICE"))[number - 1]
        assert needle in reply, (text, reply)
        assert "@channel db down &lt;https:" in reply, (text, reply)  # the typed value, shown as typed
    assert await client.list_runs() == []
    await assert_harmless(control, users=("U0ALICE",))


@needs_promtool
async def test_slo_setup_review_comment_pings_nobody(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                                     client: ShepherdClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_RULES_DIR"):
        monkeypatch.delenv(name, raising=False)
    await slack.command("U0ALICE", "slo-setup service=checkout target=99.9")
    card = await slack.wait_card("SLO setup")
    gate = await slack.wait_gate(card["ts"])
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_reject"})

    async def modal() -> dict[str, Any] | None:
        return (await control.get("/users/U0BOB/views"))["top"]

    await eventually(modal, WAIT)
    view = await modal()
    assert view is not None
    await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"],
                                         "values": {"shepherd_reason": {"reason": f"{FORM} target=99.5"}}})

    replanned: list[str] = []

    async def second_gate() -> bool:  # re-planned from the comment's target=99.5, asked again
        replanned[:] = [m["ts"] for m in await slack.thread(card["ts"])
                        if "99.5% over" in json.dumps(m.get("blocks", [])) and "shepherd_approve" in json.dumps(m)]
        return bool(replanned)

    await eventually(second_gate, 60)
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": replanned[0],
                                    "action_id": "shepherd_approve"})
    [summary] = await client.list_runs()
    run = await wait_for(client, summary["id"], timeout=60)
    assert run.status == "completed", run.meta.get("error")
    assert "&lt;!channel&gt; &lt;!here&gt;" in json.dumps(await slack.thread(card["ts"]))  # the note, as typed
    await assert_harmless(control)


async def test_a_cancel_reason_pings_nobody(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                            client: ShepherdClient, worker_slack: object,  # noqa: F811
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", f"incident-response SEV-4 title={TYPED}")
    await people.open_message("who takes which role", "shepherd_fill_in")  # the incident channel is up
    await slack.command("U0ALICE", f"cancel {run_id} {HOSTILE}")
    posted: list[str] = []

    async def told() -> bool:
        for channel in (await control.get("/channels"))["channels"]:
            if channel.get("name", "").startswith("inc-"):
                posted[:] = [m["text"] for m in (await control.get(f"/channels/{channel['id']}/messages"))["messages"]
                             if "was cancelled by" in m["text"]]
        return bool(posted)

    await eventually(told, WAIT)
    assert f"was cancelled by <@U0ALICE>: {SHOWN}." in posted[0]
    await assert_harmless(control)


async def test_a_sev1_page_and_exec_notice_quote_the_title_harmlessly(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
        worker_slack: object, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    monkeypatch.setenv("SHEPHERD_INCIDENT_ONCALL_GROUP", "S0SRE")  # the one ping this run may send: on purpose
    monkeypatch.setenv("SHEPHERD_INCIDENT_EXEC_CHANNEL", "C0GENERAL")
    people = People(slack, control, client)
    await people.declare("U0ALICE", f"incident-response SEV-1 title={TYPED}")

    execs: list[str] = []

    async def noticed() -> bool:  # posted while paging, before anyone takes a role
        execs[:] = [m["text"] for m in (await control.get("/channels/C0GENERAL/messages"))["messages"]
                    if "Response under way" in m["text"]]
        return bool(execs)

    await eventually(noticed, WAIT)
    assert SHOWN in execs[0], execs
    incident = next(c for c in (await control.get("/channels"))["channels"] if c.get("name", "").startswith("inc-"))
    pings = [m for m in (await control.get(f"/channels/{incident['id']}/messages"))["messages"]
             if m["notifies"] == ["subteam^S0SRE"]]
    assert len(pings) == 1 and SHOWN in pings[0]["text"], pings
    await assert_harmless(control, allowed=frozenset({*PEOPLE, "subteam^S0SRE"}))
