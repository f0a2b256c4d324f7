"""The console as a person uses it: first run, approvals, refusals, forms, phone width.

Every step asserts what is on the screen (text in the card, the thread panel, the ephemeral,
the modal's inline error), not what the control API holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.console.conftest import DESKTOP, PHONE, WAIT_MS, Console

pytestmark = pytest.mark.browser


async def send(console: Console, text: str) -> None:
    composer = console.page.locator("#composer-input")
    await composer.fill(text)
    await composer.press("Enter")
    await expect(composer).to_have_value("")


def card(console: Console, process: str) -> Any:
    """The run's status card: the channel message (not an ephemeral) naming the process id."""
    return console.page.locator("#timeline .message:not(.ephemeral)", has_text=process).first


def gate(console: Console, title: str) -> Any:
    """The gate message as the channel shows it (broadcast from the run's thread)."""
    page = console.page
    return page.locator("#timeline .message", has=page.locator(".broadcast-note")).filter(has_text=title).first


async def act_as(console: Console, user: str) -> None:
    await console.page.select_option("#user-switcher", user)
    await expect(console.page.locator("#user-switcher")).to_have_value(user)


async def test_first_run_gate_approved_by_an_approver(console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0ALICE", "ops")
    page = console.page
    await expect(page.locator("#channel-title")).to_have_text("# ops")
    await expect(page.locator("#timeline")).to_contain_text("No messages yet")

    # A new user types "/run", picks the process from the autocomplete, and sends it.
    composer = page.locator("#composer-input")
    await composer.press_sequentially("/run gat")
    suggestion = page.locator("#autocomplete li", has_text="/run gate-demo")
    await expect(suggestion).to_be_visible()
    await expect(suggestion).to_contain_text("Do one step, wait for approval")
    await composer.press("Tab")
    await expect(composer).to_have_value("/run gate-demo ")
    await composer.press("Enter")

    started = page.locator("#timeline .message.ephemeral", has_text="Started Gate demo")
    await expect(started).to_contain_text("Only visible to you", timeout=WAIT_MS)
    status = card(console, "gate-demo")
    await expect(status).to_contain_text("Gate demo", timeout=WAIT_MS)
    await expect(status).to_contain_text("waiting for anyone", timeout=WAIT_MS)
    await expect(status).to_contain_text("Requested by @alice")

    # The thread: steps and the gate, in the side panel.
    await status.locator(".thread-link").click()
    thread = page.locator("#thread-panel")
    await expect(thread).to_be_visible()
    await expect(thread).to_contain_text("Continue demo?", timeout=WAIT_MS)
    await expect(thread).to_contain_text("step")
    await expect(thread.locator(".bk-button.primary", has_text="Approve")).to_be_visible()
    await expect(thread.locator(".bk-button.danger", has_text="Reject")).to_be_visible()
    await console.screenshot("first-run-desktop")

    # An approver approves; the card, the gate and the thread update live.
    await act_as(console, "U0BOB")
    await expect(started).to_have_count(0)  # alice's ephemeral is hers alone
    await thread.locator(".bk-button", has_text="Approve").click()
    await expect(thread).to_contain_text("Approved by @bob", timeout=WAIT_MS)
    await expect(thread).to_contain_text("Run completed", timeout=WAIT_MS)
    await expect(thread.locator(".bk-button", has_text="Approve")).to_have_count(0)
    await expect(status).to_contain_text("completed", timeout=WAIT_MS)
    await console.screenshot("first-run-approved-desktop")


async def test_refusals_outsider_click_and_reject_with_reason(console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0ALICE", "ops")
    page = console.page
    await send(console, "/run approval-demo api approvers=@bob")
    gate_ = gate(console, "Deploy api 1.0.0?")
    await expect(gate_.locator(".bk-button", has_text="Approve")).to_be_visible(timeout=WAIT_MS)

    # An outsider's click is refused, and only they see why.
    await act_as(console, "U0MALLORY")
    await gate_.locator(".bk-button", has_text="Approve").click()
    refusal = page.locator("#timeline .message.ephemeral", has_text="not one of the approvers")
    await expect(refusal).to_be_visible(timeout=WAIT_MS)
    await expect(refusal).to_contain_text("Only visible to you")
    await console.screenshot("refusal-desktop")
    await act_as(console, "U0BOB")
    await expect(refusal).to_have_count(0)
    await expect(gate_.locator(".bk-button", has_text="Approve")).to_be_visible()  # still open

    # The approver rejects, giving a reason in the modal.
    await gate_.locator(".bk-button", has_text="Reject").click()
    modal = page.locator("#modal-layer .modal")
    await expect(modal.locator("h2")).to_have_text("Reject", timeout=WAIT_MS)
    await modal.get_by_label("Reason").fill("not during the freeze")
    await modal.locator(".modal-submit").click()
    await expect(page.locator("#modal-layer")).to_be_hidden(timeout=WAIT_MS)
    await expect(gate_).to_contain_text("Rejected by @bob", timeout=WAIT_MS)
    await expect(gate_).to_contain_text("not during the freeze")
    await expect(gate_.locator(".bk-button")).to_have_count(0)
    await expect(card(console, "approval-demo")).to_contain_text("completed", timeout=WAIT_MS)


async def test_start_form_shows_inline_errors_then_starts(console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0ALICE", "ops")
    page = console.page
    await send(console, "/run approval-demo")
    modal = page.locator("#modal-layer .modal")
    await expect(modal.locator("h2")).to_have_text("Run Approval demo", timeout=WAIT_MS)
    await expect(modal.get_by_label("version")).to_have_value("1.0.0")  # defaults pre-filled

    await modal.locator(".modal-submit").click()
    service = modal.locator(".block-input", has=page.get_by_label("service"))
    await expect(service.locator(".input-error")).to_have_text("Please fill out this field.", timeout=WAIT_MS)
    await expect(modal.locator(".input-error")).to_have_count(1)
    await expect(page.locator("#toast")).to_be_hidden()  # nothing went wrong: the form says what to fix
    await console.screenshot("form-error-desktop")

    await modal.get_by_label("service").fill("billing")
    await modal.get_by_label("version").fill("2.1.0")
    await modal.locator(".modal-submit").click()
    await expect(page.locator("#modal-layer")).to_be_hidden(timeout=WAIT_MS)
    await expect(page.locator("#timeline .message.ephemeral", has_text="Started Approval demo")).to_be_visible(
        timeout=WAIT_MS)
    await expect(gate(console, "Deploy billing 2.1.0?")).to_be_visible(timeout=WAIT_MS)


async def test_phone_width_drawer_thread_and_markdown_file(console_factory: Any) -> None:
    console: Console = await console_factory(PHONE, "U0ALICE", "general")
    page = console.page
    sidebar = page.locator("#sidebar")
    assert not await sidebar.evaluate("el => el.getBoundingClientRect().right > 0")  # off-screen drawer

    await page.locator("#drawer-toggle").click()
    await expect(sidebar).to_have_class("open")
    await sidebar.locator(".nav-item", has_text="ops").click()
    await expect(page.locator("#channel-title")).to_have_text("# ops")
    await expect(sidebar).not_to_have_class("open")

    await send(console, "/run approval-demo web approvers=@bob")
    status = card(console, "approval-demo")
    await expect(status).to_contain_text("waiting", timeout=WAIT_MS)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page scrolls sideways at phone width: {width}px"
    await console.screenshot("run-phone")

    await status.locator(".thread-link").click()
    thread = page.locator("#thread-panel")
    await expect(thread).to_be_visible()
    box = await thread.bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 1, box  # full-screen
    plan = thread.locator(".file", has_text="plan.md")
    await expect(plan.locator(".file-preview h1")).to_have_text("Plan", timeout=WAIT_MS)
    await expect(plan.locator(".file-preview")).to_contain_text("Deploy web 1.0.0")
    download = plan.locator("a.file-download")
    assert await download.get_attribute("download") == "plan.md"
    href = await download.get_attribute("href")
    body = await page.evaluate("async (u) => (await fetch(u)).text()", href)
    assert body.startswith("# Plan") and "Deploy web 1.0.0" in body
    await expect(thread).to_contain_text("Deploy web 1.0.0?")
    await console.screenshot("thread-phone")
    await thread.locator("#thread-close").click()
    await expect(thread).to_be_hidden()
