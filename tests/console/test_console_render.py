"""What the console draws: Block Kit, mrkdwn (safely), files, the Home tab, live updates.

Messages are posted the way an app posts them (the Web API with the bot token) or a person
types them (the console's composer), and the assertions read the rendered page.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest
from playwright.async_api import expect
from slack_sdk.web.async_client import AsyncWebClient

from shepherd.launcher import Stack
from tests.console.conftest import DESKTOP, WAIT_MS, Console

pytestmark = pytest.mark.browser


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (red pixels), so the browser has something to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def web(stack: Stack) -> AsyncWebClient:
    return AsyncWebClient(token=stack.server.bot_token, base_url=stack.server.api_url)


async def test_block_kit_and_png_render(stack: Stack, console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0CAROL", "deploys")
    page = console.page
    client = web(stack)
    upload = await client.files_upload_v2(channel="C0DEPLOYS", content=tiny_png(), filename="chart.png",
                                          title="Burn-down chart", initial_comment="Chart attached")
    file_id = upload["file"]["id"]
    image_url = f"{stack.server.url}/control/files/{file_id}/content"
    await client.chat_postMessage(channel="C0DEPLOYS", text="Release 4.2 is ready", blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "Release 4.2"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Ready* to ship <https://example.com/r/42|notes>"},
         "fields": [{"type": "mrkdwn", "text": "*Service*\nbilling"},
                    {"type": "mrkdwn", "text": "*Owner*\n<@U0CAROL>"}],
         "accessory": {"type": "button", "action_id": "details", "text": {"type": "plain_text", "text": "Details"}}},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Reviewed by <!subteam^S0SRE> in <#C0OPS>"}]},
        {"type": "image", "image_url": image_url, "alt_text": "burn-down", "title": {"type": "plain_text",
                                                                                  "text": "Error budget"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "go", "style": "primary", "text": {"type": "plain_text", "text": "Ship"}},
            {"type": "button", "action_id": "stop", "style": "danger", "text": {"type": "plain_text", "text": "Hold"}},
            {"type": "button", "action_id": "later", "text": {"type": "plain_text", "text": "Later"}}]},
    ])

    message = page.locator("#timeline .message", has_text="Release 4.2")
    await expect(message.locator(".block-header")).to_have_text("Release 4.2", timeout=WAIT_MS)
    await expect(message.locator(".block-section b").first).to_have_text("Ready")
    assert await message.locator("a", has_text="notes").get_attribute("href") == "https://example.com/r/42"
    fields = message.locator(".fields")
    await expect(fields).to_contain_text("Service")
    await expect(fields).to_contain_text("billing")
    await expect(fields.locator(".mention")).to_have_text("@carol")
    await expect(message.locator(".block-section .bk-button")).to_have_text("Details")
    await expect(message.locator("hr.block-divider")).to_have_count(1)
    await expect(message.locator(".block-context")).to_have_text("Reviewed by @sre in #ops")
    await expect(message.locator(".block-image figcaption")).to_have_text("Error budget")
    buttons = message.locator(".block-actions .bk-button")
    await expect(buttons).to_have_text(["Ship", "Hold", "Later"])
    assert await buttons.nth(0).get_attribute("class") == "bk-button primary"
    assert await buttons.nth(1).get_attribute("class") == "bk-button danger"

    png = page.locator("#timeline .file", has_text="Burn-down chart").locator("img")
    await expect(png).to_be_visible(timeout=WAIT_MS)
    for img in (png, message.locator(".block-image img")):  # both really decoded, not broken-image icons
        await page.wait_for_function("img => img.complete && img.naturalWidth === 3", arg=await img.element_handle(),
                                     timeout=WAIT_MS)
    await console.screenshot("block-kit-desktop")


async def test_mrkdwn_is_never_html(console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0MALLORY", "general")
    page = console.page
    hostile = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
               '&lt;b&gt;not bold&lt;/b&gt; *bold* _it_ ~gone~ `code` snake_case_name '
               '<javascript:window.__pwned=3|click me> <https://example.com/a?b=1&amp;c=2|a link> '
               '<@U0BOB> <#C0OPS> <!subteam^S0SRE> <!here>')
    composer = page.locator("#composer-input")
    await composer.fill(hostile)
    await composer.press("Enter")
    message = page.locator("#timeline .message", has_text="a link")
    await expect(message).to_be_visible(timeout=WAIT_MS)
    text = message.locator(".mrkdwn")
    await expect(text).to_contain_text('img src=x onerror="window.__pwned=1"')
    await expect(text).to_contain_text("<b>not bold</b>")
    await expect(text.locator("b")).to_have_text(["bold"])
    await expect(text.locator("i")).to_have_text(["it"])
    await expect(text.locator("s")).to_have_text(["gone"])
    await expect(text.locator("code")).to_have_text(["code"])
    await expect(text).to_contain_text("snake_case_name")
    await expect(text.locator(".mention")).to_have_text(["@bob", "#ops", "@sre", "@here"])
    links = text.locator("a")
    await expect(links).to_have_count(1)
    assert await links.get_attribute("href") == "https://example.com/a?b=1&c=2"
    await expect(text).to_contain_text("click me")
    assert await page.locator("#timeline img[src='x'], #timeline script").count() == 0
    assert await page.evaluate("window.__pwned") is None


async def test_home_tab_and_live_updates(stack: Stack, console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0BOB", "ops")
    page = console.page
    await page.locator("#home-link").click()
    home = page.locator("#home")
    await expect(home).to_be_visible()
    await expect(page.locator("#channel-purpose")).to_have_text("App Home")
    await expect(home.locator(".empty, .blocks")).to_have_count(1, timeout=WAIT_MS)  # says what there is
    published = None
    for _ in range(50):  # give the bot time to answer app_home_opened, if it publishes a Home tab at all
        published = stack.server.sandbox.views.home("U0BOB")
        if published is not None:
            break
        await asyncio.sleep(0.1)
    if published is not None:  # the bot answered app_home_opened: its headers are on screen
        headers = [b["text"]["text"] for b in published.definition["blocks"] if b["type"] == "header"]
        await expect(home.locator(".block-header")).to_have_text(headers, timeout=WAIT_MS)

    await web(stack).views_publish(user_id="U0BOB", view={"type": "home", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Your approvals"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*2* gates wait for <@U0BOB>"}}]})
    await expect(home.locator(".block-header")).to_have_text(["Your approvals"], timeout=WAIT_MS)
    await expect(home).to_contain_text("2 gates wait for @bob")

    # Another person's Home is theirs: switching shows carol's (empty) tab.
    await page.select_option("#user-switcher", "U0CAROL")
    await expect(home).not_to_contain_text("Your approvals", timeout=WAIT_MS)

    # A person typing in a channel shows up live in another person's console, no reload.
    await page.locator(".nav-item", has_text="ops").click()
    other: Console = await console_factory(DESKTOP, "U0ALICE", "ops")
    await other.page.locator("#composer-input").fill("deploy freeze starts at 18:00")
    await other.page.locator("#composer-input").press("Enter")
    await expect(page.locator("#timeline")).to_contain_text("deploy freeze starts at 18:00", timeout=WAIT_MS)
    await expect(page.locator("#timeline .message", has_text="deploy freeze")).to_contain_text("Alice Archer")


async def test_a_message_that_would_notify_shows_whom(stack: Stack, console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0CAROL", "ops")
    client = web(stack)
    await client.chat_postMessage(channel="C0OPS", text="<!channel> db down, <@U0BOB> and <!subteam^S0SRE> look")
    await client.chat_postMessage(channel="C0OPS", text="&lt;!channel&gt; quiet: typed text, escaped")
    loud = console.page.locator("#timeline .message", has_text="db down")
    await expect(loud.locator(".notifies")).to_have_text("🔔 notifies @channel, @bob, @sre", timeout=WAIT_MS)
    quiet = console.page.locator("#timeline .message", has_text="quiet")
    await expect(quiet).to_contain_text("<!channel> quiet", timeout=WAIT_MS)
    await expect(quiet.locator(".notifies")).to_have_count(0)
