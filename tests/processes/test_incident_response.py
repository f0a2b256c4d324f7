"""incident-response end to end: the sandbox Slack, the real bot, a real worker, a fake PagerDuty.

Cancelling is here too: `/run cancel` resolves the page and tells the incident channel."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import aiohttp
import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from engine import TaskContext
from engine.client import ShepherdClient
from engine.settings import Settings
from integrations.pagerduty import PagerDutyError
from processes.incident.models import PageArgs, PostArgs
from processes.incident.tasks import page_oncall, post_message
from sandbox import SandboxServer
from state.store import RunStore
from tests.bot.conftest import Harness, Slack
from tests.helpers import check_journal, wait_for
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    FakePagerDuty,
    People,
    control,
    harness,
    pagerduty,
    server,
    slack,
    worker_slack,
)
from tests.sandbox.control_client import Control, eventually

TODAY = datetime.now(UTC).strftime("%Y%m%d")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No warm coroutines: every wake replays the process from the top, proving it deterministic."""
    return settings.model_copy(update={"replay_cache_size": 0})


async def _messages(control: Control, channel: str) -> list[dict]:  # noqa: F811
    return (await control.get(f"/channels/{channel}/messages"))["messages"]


async def _file(control: Control, name: str) -> str:  # noqa: F811
    files = [f for f in (await control.get("/files"))["files"] if f["name"] == name]
    assert files, f"no file {name}: {[f['name'] for f in (await control.get('/files'))['files']]}"
    async with aiohttp.ClientSession(trust_env=False) as session, \
            session.get(f"{control.base}/files/{files[-1]['id']}/content") as resp:
        return await resp.text()


async def test_sev2_full_run(harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
                             redis: Redis, pagerduty: FakePagerDuty,  # noqa: F811
                             worker_slack: SandboxServer) -> None:  # noqa: F811
    pagerduty.oncall = [{"escalation_level": 1, "user": {"id": "PCAROL", "name": "Carol Chen",
                                                         "email": "carol@sandbox.example"}}]
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-2 title='Checkout is down' service=checkout")

    # Channel: created with its topic, requester invited, announcement posted.
    name = f"inc-{TODAY}-checkout-is-down"

    async def channel_ready() -> bool:  # the announcement is the channel's last setup step
        channels = {c["name"]: c for c in (await control.get("/channels"))["channels"]}
        return name in channels and any("declared by <@U0ALICE>" in m["text"]
                                        for m in await _messages(control, channels[name]["id"]))

    await eventually(channel_ready, 15)
    channel = (await control.get(f"/channels/{name}"))["channel"]
    incident = f"INC-{TODAY}-1"
    assert channel["topic"]["value"] == f"SEV-2 {incident}: Checkout is down | commander: — | status: investigating"
    assert "U0ALICE" in channel["members"]

    # A message in the incident channel marked with :pushpin: goes into the timeline.
    said = await control.post("/messages", {"user": "U0ALICE", "channel": channel["id"],
                                            "text": "Found it: release 42 changed the payment timeout"})
    web = AsyncWebClient(token=worker_slack.bot_token, base_url=worker_slack.api_url)
    await web.reactions_add(channel=channel["id"], timestamp=said["message"]["ts"], name="pushpin")

    # Roles, asked of the requester (no commander given) while PagerDuty is paged.
    view = await people.answer("U0ALICE", "who takes which role", {
        "commander": "U0BOB", "tech_lead": "U0CAROL", "comms_lead": "U0ALICE"})
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds == {f"field:{r}": "users_select" for r in ("commander", "tech_lead", "comms_lead", "scribe")}

    # Status updates at the (shortened) cadence, asked of the commander and posted to the channel.
    await people.answer("U0BOB", "status update #1", {"status": "Rolling back release 42"})
    await people.answer("U0BOB", "status update #2", {"status": "Error rate back to normal", "mitigated": ["yes"]})
    await people.approve("U0BOB", "is the impact mitigated?")
    await people.approve("U0BOB", "resolve the incident?")

    # Postmortem inputs and action items.
    await people.answer("U0BOB", "postmortem details", {"summary": "Release 42 broke checkout.",
                                                       "impact": "30% of checkouts failed for 20 minutes.",
                                                       "went_badly": "Alerting was late."})
    await people.answer("U0BOB", "action item #1", {"title": "Add a canary stage", "owner": "U0CAROL",
                                                    "due": "2030-01-31", "another": ["yes"]})
    await people.answer("U0BOB", "action item #2", {"title": "Alert on checkout errors", "owner": "U0BOB",
                                                    "due": "2030-02-15"})

    # Review with four eyes: the requester cannot approve; a rejection asks for a revision.
    await people.approve("U0ALICE", "Review the postmortem")
    await slack.wait_ephemeral("U0ALICE", "Four-eyes gate")
    await people.reject("U0BOB", "revision 1", "Say why alerting was late")
    await people.answer("U0BOB", "reviewer said: Say why alerting was late", {
        "summary": "Release 42 broke checkout.", "impact": "30% of checkouts failed for 20 minutes.",
        "went_badly": "Alerting was late: the error-rate alert waits 15 minutes."})
    await people.approve("U0CAROL", "revision 2")

    run = await wait_for(client, run_id, timeout=20)
    assert run.status == "completed", run
    result = json.loads(run.meta["result"])
    assert result["incident"] == incident and result["channel"] == channel["id"] and result["channel_created"]
    assert result["roles"] == {"commander": "U0BOB", "tech_lead": "U0CAROL", "comms_lead": "U0ALICE", "scribe": None}
    assert result["postmortem"]["approved_by"] == "U0CAROL" and result["postmortem"]["revision"] == 2
    assert [a["title"] for a in result["action_items"]] == ["Add a canary stage", "Alert on checkout errors"]
    assert result["updates"] == 2
    check_journal(await client.store.read_journal(run_id))

    # PagerDuty: one trigger keyed by the incident id, acknowledged when roles were taken, resolved.
    assert pagerduty.actions() == [("trigger", incident), ("acknowledge", incident), ("resolve", incident)]
    assert pagerduty.events[0]["payload"] == {
        "summary": f"{incident} SEV-2: Checkout is down", "severity": "error", "source": "checkout",
        "custom_details": {"incident": incident, "severity": "SEV-2", "slack_channel": channel["id"]}}
    assert len(pagerduty.oncall_queries) == 1

    # The channel: role holders and on-call invited; updates and resolution posted there.
    after = (await control.get(f"/channels/{channel['id']}"))["channel"]
    assert after["topic"]["value"] == f"SEV-2 {incident}: Checkout is down | commander: <@U0BOB> | status: resolved"
    members = after["members"]
    assert {"U0ALICE", "U0BOB", "U0CAROL"} <= set(members)
    texts = [m["text"] for m in await _messages(control, channel["id"])]
    assert any(f"*{incident}* update #1: Rolling back release 42" in t for t in texts), texts
    assert any(f"*{incident}* update #2: Error rate back to normal" in t for t in texts), texts
    assert any(f"*{incident}* resolved" in t for t in texts), texts
    assert any("Add a canary stage (<@U0CAROL>, due 2030-01-31)" in t for t in texts), texts

    # The postmortem, with the timeline and durations computed from the recorded times.
    doc = await _file(control, f"{incident}-postmortem-r2.md")
    journal = await client.store.read_journal(run_id)
    resolved = {e["key"]: e for e in journal if e["type"] == "effect_resolved"}
    declared = datetime.fromisoformat(resolved["1"]["value"]["declared_at"])
    mitigated_at = datetime.fromisoformat(resolved["mitigated-1"]["value"]["at"])
    resolved_at = datetime.fromisoformat(resolved["resolve-1"]["value"]["at"])
    assert f"| Time to mitigate (TTM) | {_human((mitigated_at - declared).total_seconds())} |" in doc
    assert f"| Time to resolve (TTR) | {_human((resolved_at - declared).total_seconds())} |" in doc
    assert result["durations"]["ttr"] == (resolved_at - declared).total_seconds()
    for needle in ("## Timeline", "SEV-2 declared by <@U0ALICE>: Checkout is down", "📣 <@U0BOB>: Rolling back",
                   "Mitigated (approved by <@U0BOB>)", "Resolved (approved by <@U0BOB>)",
                   "**Incident commander:** <@U0BOB>", "| 1 | Add a canary stage | <@U0CAROL> | 2030-01-31 |",
                   "the error-rate alert waits 15 minutes", "Say why alerting was late",
                   "📌 <@U0ALICE>: Found it: release 42 changed the payment timeout"):
        assert needle in doc, (needle, doc)
    lines = [line for line in doc.split("## Timeline")[1].split("##")[0].splitlines() if line.startswith("- ")]
    stamps = [line[2:21] for line in lines]
    assert stamps == sorted(stamps) and len(lines) >= 6, lines

    # Statistics kept for incident-stats.
    stored = json.loads(await redis.hget("shepherd:{incidents}:stats", incident))
    assert stored["severity"] == "SEV-2" and stored["ttr"] == result["durations"]["ttr"]

    # A redelivered page task changes nothing: same result, no second trigger.
    page_step = next(e["key"] for e in journal if e["type"] == "effect_requested"
                     and e.get("name", "").endswith("page_oncall"))
    args = PageArgs.model_validate(next(e for e in journal if e.get("key") == page_step
                                        and e["type"] == "effect_requested")["args"]["input"])

    async def beat() -> None:
        return None

    again = await page_oncall.fn(args, TaskContext(run_id=run_id, step=page_step, attempt=2, heartbeat=beat,
                                                   redis=redis))
    assert again.model_dump(mode="json") == resolved[page_step]["value"]
    assert pagerduty.actions().count(("trigger", incident)) == 1


def _human(seconds: float) -> str:
    from processes.incident.timeline import human

    return human(seconds)


async def test_sev4_no_page_no_postmortem(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                          client: ShepherdClient, pagerduty: FakePagerDuty,  # noqa: F811
                                          worker_slack: object) -> None:  # noqa: F811
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-4 title='Typo on status page' commander=@bob")
    await people.answer("U0BOB", "who takes which role", {"commander": "U0BOB", "tech_lead": "U0BOB"})
    await people.approve("U0BOB", "is the impact mitigated?")
    await people.approve("U0BOB", "resolve the incident?")
    run = await wait_for(client, run_id, timeout=20)
    assert run.status == "completed", run
    result = json.loads(run.meta["result"])
    assert result["paged"] == "not required" and result["postmortem"] is None and result["updates"] == 0
    assert pagerduty.events == []
    assert "SEV-4: no page (policy)" in run.notes and "SEV-4: no postmortem required" in run.notes
    names = [a["name"] for a in run.artifacts]
    assert names == [f"{result['incident']}-timeline.md"]
    channel = (await control.get(f"/channels/inc-{TODAY}-typo-on-status-page"))["channel"]
    assert "commander: <@U0BOB>" in channel["topic"]["value"] and "U0BOB" in channel["members"]


async def test_channel_name_taken_gets_a_suffix(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                                client: ShepherdClient, worker_slack: object) -> None:  # noqa: F811
    await control.post("/channels", {"name": f"inc-{TODAY}-db-failover", "creator": "U0CAROL"})
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-3 title='DB failover'")
    await people.answer("U0ALICE", "who takes which role", {"commander": "U0ALICE", "tech_lead": "U0BOB"})
    run = await client.view(run_id)

    async def noted() -> bool:
        nonlocal run
        run = await client.view(run_id)
        return any("created" in n for n in run.notes)

    await eventually(noted, 15)
    note = next(n for n in run.notes if "Incident channel" in n)
    assert f"(#inc-{TODAY}-db-failover-2) created" in note, run.notes
    suffixed = (await control.get(f"/channels/inc-{TODAY}-db-failover-2"))["channel"]
    assert suffixed["topic"]["value"].startswith("SEV-3 INC-")
    await client.cancel(run_id, by="U0ALICE", reason="test over")


async def test_channel_creation_refused_continues_here(harness: Harness, slack: Slack,  # noqa: F811
                                                       control: Control, client: ShepherdClient,  # noqa: F811
                                                       worker_slack: object) -> None:  # noqa: F811
    await control.post("/settings", {"refuse_channel_creation": True})
    before = {c["name"] for c in (await control.get("/channels"))["channels"]}
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-3 title='Slow search'")
    await people.answer("U0ALICE", "who takes which role", {"commander": "U0BOB", "tech_lead": "U0CAROL"})

    async def said() -> bool:
        return "the incident continues in this channel <#C0OPS>" in json.dumps(await slack.thread(people.card_ts))

    await eventually(said, 15)
    assert {c["name"] for c in (await control.get("/channels"))["channels"]} == before
    announce = [m["text"] for m in await _messages(control, "C0OPS") if "declared by <@U0ALICE>" in m["text"]]
    assert len(announce) == 1 and re.search(r"INC-\d{8}-\d+\* — SEV-3", announce[0]), announce
    await people.answer("U0BOB", "status update #1", {"status": "Reindexing", "mitigated": ["yes"]})

    async def update_here() -> bool:
        return any("update #1: Reindexing" in m["text"] for m in await _messages(control, "C0OPS"))

    await eventually(update_here, 15)
    await client.cancel(run_id, by="U0ALICE", reason="test over")


async def test_slack_refusals_are_reported_not_fatal(control: Control, redis: Redis,  # noqa: F811
                                                     worker_slack: SandboxServer) -> None:  # noqa: F811
    created = await control.post("/channels", {"name": "private-war-room", "creator": "U0CAROL",
                                               "is_private": True})
    channel = created["channel"]["id"]

    async def beat() -> None:
        return None

    tctx = TaskContext(run_id="r1", step="9", attempt=1, heartbeat=beat, redis=redis)
    result = await post_message.fn(PostArgs(channel=channel, text="hello"), tctx)
    # A private channel the bot is not in does not exist for it (https://api.slack.com/methods/chat.postMessage)
    assert not result.posted and result.error == "chat.postMessage: channel_not_found", result
    assert "Slack refused to post" in result.detail


async def test_sev1_without_pagerduty_pages_the_group_and_tells_execs(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
        worker_slack: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEPHERD_INCIDENT_ONCALL_GROUP", "S0SRE")
    monkeypatch.setenv("SHEPHERD_INCIDENT_EXEC_CHANNEL", "C0GENERAL")
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-1 title='Payments down'")
    await people.answer("U0ALICE", "who takes which role", {"commander": "U0BOB", "tech_lead": "U0CAROL"})
    run = await client.view(run_id)

    async def paged() -> bool:
        nonlocal run
        run = await client.view(run_id)
        return any("Roles:" in n for n in run.notes)

    await eventually(paged, 15)
    assert ("📟 PagerDuty is not configured (PAGERDUTY_ROUTING_KEY); paged the on-call group <!subteam^S0SRE>"
            in run.notes), run.notes
    assert "Executive notice posted in <#C0GENERAL>" in run.notes
    found = re.search(r"<#(C\w+)>", next(n for n in run.notes if "Incident channel" in n))
    assert found, run.notes
    channel_id = found[1]
    texts = [m["text"] for m in await _messages(control, channel_id)]
    assert any(t.startswith("<!subteam^S0SRE> SEV-1 declared: INC-") for t in texts), texts
    execs = [m["text"] for m in await _messages(control, "C0GENERAL")]
    assert any("🚨 SEV-1 INC-" in t and f"Response under way in <#{channel_id}>" in t for t in execs), execs

    # Cancelled: the group that was paged is told to stand down in the incident channel.
    await client.cancel(run_id, by="U0ALICE", reason="false alarm")

    async def stood_down() -> bool:
        return any(t.endswith("was cancelled by <@U0ALICE>: false alarm. <!subteam^S0SRE> you can stand down.")
                   for t in [m["text"] for m in await _messages(control, channel_id)])

    await eventually(stood_down, 15)


async def test_pagerduty_failure_falls_back_to_the_group(redis: Redis, pagerduty: FakePagerDuty,  # noqa: F811
                                                         worker_slack: SandboxServer,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async def beat() -> None:
        return None

    def tctx(step: str, attempt: int) -> TaskContext:
        return TaskContext(run_id="r1", step=step, attempt=attempt, heartbeat=beat, redis=redis)

    args = PageArgs(incident_id="INC-20260101-7", severity="SEV-2", summary="INC-20260101-7 SEV-2: x",
                    source="api", channel="C0OPS", oncall_group="S0SRE")
    pagerduty.fail_with = 503  # transient: raised, so the worker retries ...
    with pytest.raises(PagerDutyError, match=r"\(503\)"):
        await page_oncall.fn(args, tctx("p1", 1))
    result = await page_oncall.fn(args, tctx("p1", 4))  # ... until the last attempt falls back
    assert result.via == "usergroup" and result.detail == (
        "PagerDuty failed: PagerDuty refused the trigger event (503): try later; "
        "paged the on-call group <!subteam^S0SRE>")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", "not-the-key")
    pagerduty.fail_with = None  # permanent (400): falls back at once
    result = await page_oncall.fn(args.model_copy(update={"oncall_group": None}), tctx("p2", 1))
    assert result.via == "none" and result.detail.startswith(
        "PagerDuty failed: PagerDuty refused the trigger event (400): Event object is invalid; "
        "'routing_key' is invalid. Nobody was paged")
    assert "not-the-key" not in result.detail
    async with aiohttp.ClientSession(trust_env=False) as session:
        ops = await Control(session, worker_slack.control_url).get("/channels/C0OPS/messages")
    mentions = [m["text"] for m in ops["messages"]]
    assert sum("<!subteam^S0SRE> SEV-2 declared: INC-20260101-7" in t for t in mentions) == 1


async def test_cancelling_a_paged_incident_resolves_the_page(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
        pagerduty: FakePagerDuty, worker_slack: SandboxServer) -> None:  # noqa: F811
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-2 title='Search is slow'")
    incident = f"INC-{TODAY}-1"

    async def paged() -> bool:  # paged, while the roles question is still open
        steps = (await client.view(run_id)).steps
        return pagerduty.actions() == [("trigger", incident)] and any(
            s.name.endswith("page_oncall") and s.state == "done" for s in steps)

    await eventually(paged, 15)

    # Only the requester may cancel; a reason is optional and reaches the channel.
    await slack.command("U0BOB", f"cancel {run_id}")
    await slack.wait_ephemeral("U0BOB", "Only the requester (<@U0ALICE>) can cancel this run")
    await slack.command("U0ALICE", f"cancel {run_id} duplicate of INC-42")
    await slack.wait_ephemeral("U0ALICE", f"Cancelled run {run_id} (its clean-up step is queued)")

    async def released() -> bool:
        return ("resolve", incident) in pagerduty.actions()

    await eventually(released, 15)
    assert pagerduty.actions() == [("trigger", incident), ("resolve", incident)]
    assert pagerduty.incidents == {incident: "resolved"}

    channel = (await control.get(f"/channels/inc-{TODAY}-search-is-slow"))["channel"]

    async def announced() -> list[str]:
        texts = [m["text"] for m in (await control.get(f"/channels/{channel['id']}/messages"))["messages"]]
        return [t for t in texts if "was cancelled" in t]

    await eventually(announced, 15)
    assert await announced() == [f"⊘ *{incident}* was cancelled by <@U0ALICE>: duplicate of INC-42. "
                                 f"PagerDuty resolve sent for {incident}."]

    run = await client.view(run_id)
    assert run.status == "cancelled"
    cleanup = [s for s in run.steps if s.key == "@on_cancel"]
    assert [(s.name.rsplit(".", 1)[-1], s.state) for s in cleanup] == [("release_incident", "done")]
    events = [(e["type"], e.get("key")) for e in await RunStore(client.redis).read_journal(run_id)]
    assert events.count(("run_cancelled", None)) == 1
    assert events[events.index(("run_cancelled", None)) + 1:] == [
        ("effect_requested", "@on_cancel"), ("effect_resolved", "@on_cancel")], events

    async def threaded() -> bool:  # the run's thread shows the clean-up, after the cancel
        replies = [m.get("text", "") for m in await slack.thread(people.card_ts)]
        return any("release_incident" in t and "done" in t for t in replies)

    await eventually(threaded, 15)
