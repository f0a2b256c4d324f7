"""Live updates the console gets for surfaces it is not showing."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from shepherd.launcher import Stack
from tests.console.conftest import DESKTOP, WAIT_MS, Console
from tests.console.test_console_render import web

pytestmark = pytest.mark.browser


async def test_a_home_update_while_a_channel_is_shown_breaks_nothing(stack: Stack, console_factory: Any) -> None:
    """The bot refreshes App Home whenever a run changes; a console showing a channel must skip
    that refresh, not throw (which also dropped the channel refresh queued with it)."""
    console: Console = await console_factory(DESKTOP, "U0CAROL", "ops")
    client = web(stack)
    await client.views_publish(user_id="U0CAROL", view={"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*1* gate waits for you"}}]})
    await client.chat_postMessage(channel="C0OPS", text="posted after the Home update")
    await expect(console.page.locator("#timeline")).to_contain_text("posted after the Home update", timeout=WAIT_MS)
    assert console.errors == []
