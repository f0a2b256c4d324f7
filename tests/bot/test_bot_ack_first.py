"""The first request after a start is acknowledged in time even when Slack is slow.

Bolt asks Slack who the bot is (``auth.test``) on the first request it handles, before that
request's listener can ack; one 429 with Retry-After 2 made the first ``/run`` after a restart
miss Slack's deadline (1 s here). The bot now asks at start (``bot.app.warm_authorization``).
"""

from __future__ import annotations

from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import Control


async def test_first_command_after_a_start_is_acked_while_slack_is_slow(harness: Harness, slack: Slack,
                                                                          control: Control) -> None:
    await harness.stop()
    await control.post("/ratelimit", {"method": "auth.test", "count": 1, "retry_after": 2})
    await harness.start()
    harness.server.config.ack_timeout = 1.0
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                               "text": "gate-demo"})
    assert [a["outcome"] for a in result["delivery"]["attempts"]] == ["acked"], result["delivery"]
    await slack.wait_ephemeral("U0ALICE", "Started *Gate demo*")
    statuses = [c["status"] for c in (await control.get("/calls", method="auth.test"))["calls"]]
    assert 429 in statuses, statuses  # the slow path really was taken
