"""``/run retry <id>``: the requester reruns a failed run from its last good step; the card
goes back to running and then completed, and the thread says who retried what."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from engine.client import ShepherdClient
from shepherd.discovery import load_processes
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import eventually

load_processes(str(Path(__file__).parents[1] / "retry_examples"))


async def test_retry_a_failed_run(harness: Harness, slack: Slack, client: ShepherdClient, redis: Redis) -> None:
    await slack.command("U0ALICE", "retry-linear")
    await slack.wait_ephemeral("U0ALICE", "Started")
    run_id = (await client.list_runs())[0]["id"]
    await wait_for(client, run_id, "failed")
    card = await slack.wait_card("failed")

    await slack.command("U0ALICE", "retry")
    await slack.wait_ephemeral("U0ALICE", "usage: /run retry &lt;run id&gt;")  # mrkdwn: shows <run id>
    await slack.command("U0MALLORY", f"retry {run_id}")
    await slack.wait_ephemeral("U0MALLORY", "Only the requester")
    assert (await client.view(run_id)).status == "failed"

    await redis.set(f"test:fixed:{run_id}:deploy", 1)
    await slack.command("U0ALICE", f"retry {run_id}")
    await slack.wait_ephemeral("U0ALICE", f"Retrying run {run_id} from step 2")
    await wait_for(client, run_id, "completed")
    assert (await slack.wait_card("completed"))["ts"] == card["ts"]  # the same card, edited in place

    async def thread_tells_it() -> bool:  # the card may be edited before the last line is posted
        thread = " ".join(m.get("text", "") for m in await slack.thread(card["ts"]))
        return "Retried* by <@U0ALICE>: step 2 runs again" in thread and "Run completed" in thread

    await eventually(thread_tells_it, 10)

    await slack.command("U0ALICE", f"retry {run_id}")
    await slack.wait_ephemeral("U0ALICE", "is completed; only a failed run can be retried")
