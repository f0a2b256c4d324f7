"""Modals with every kind of input the bot builds: select, user picker, checkbox, number, text.

A process registered only for this test asks for one of each, so ``/run`` opens its start form;
the app's own validation (a number below its minimum) comes back inline, then the run starts
with exactly what was picked on screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import pytest
from playwright.async_api import expect
from pydantic import BaseModel, Field

from engine import Context, process
from engine.registry import PROCESSES
from tests.console.conftest import DESKTOP, WAIT_MS, Console

pytestmark = pytest.mark.browser
PROCESS = "console-form-demo"


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"


class FormInputs(BaseModel):
    title: str = Field(description="what happened")
    severity: Severity = Field(description="how bad")
    owner: str = Field(description="who leads")
    minutes: int = Field(default=30, ge=5, description="minutes between updates")
    page: bool = Field(default=False, description="page the on-call")


async def form_demo(inputs: FormInputs, ctx: Context) -> dict:
    """Echo what the form gave."""
    return inputs.model_dump(mode="json")


@pytest.fixture
def form_process() -> Iterator[str]:
    """Registered for this test only, so other tests' process lists stay as they were."""
    process(PROCESS, title="Form demo", inputs=FormInputs)(form_demo)
    yield PROCESS
    PROCESSES.pop(PROCESS, None)


def field(modal: Any, name: str) -> Any:
    return modal.locator(f".block-input[data-block-id='field:{name}']")


async def test_modal_inputs_and_app_errors(form_process: str, console_factory: Any) -> None:
    console: Console = await console_factory(DESKTOP, "U0CAROL", "ops")
    page = console.page
    composer = page.locator("#composer-input")
    await composer.press_sequentially("/run console-f")
    await expect(page.locator("#autocomplete li", has_text=f"/run {PROCESS}")).to_be_visible()
    await composer.press("Tab")
    await composer.press("Enter")

    modal = page.locator("#modal-layer .modal")
    await expect(modal.locator("h2")).to_have_text("Run Form demo", timeout=WAIT_MS)
    severity = field(modal, "severity").locator("select")
    await expect(severity.locator("option")).to_have_text(["Choose", "SEV1", "SEV2", "SEV3"])
    owner = field(modal, "owner").locator("select")
    await expect(owner.locator("option", has_text="Bob Baker (@bob)")).to_have_count(1)
    await expect(field(modal, "minutes").locator("input[type=number]")).to_have_value("30")
    checkbox = field(modal, "page").locator("input[type=checkbox]")
    await expect(checkbox).not_to_be_checked()

    await field(modal, "title").locator("input").fill("checkout latency")
    await severity.select_option("SEV2")
    await owner.select_option("U0BOB")
    await checkbox.check()
    await field(modal, "minutes").locator("input").fill("2")
    await modal.locator(".modal-submit").click()

    # The app refuses 2 (minimum 5): its message is under that input, and what was typed stays.
    error = field(modal, "minutes").locator(".input-error")
    await expect(error).to_contain_text("greater than or equal to 5", timeout=WAIT_MS)
    await expect(modal.locator(".input-error")).to_have_count(1)
    await expect(field(modal, "title").locator("input")).to_have_value("checkout latency")
    await expect(severity).to_have_value("SEV2")
    await expect(checkbox).to_be_checked()
    await console.screenshot("form-app-error-desktop")

    await field(modal, "minutes").locator("input").fill("10")
    await modal.locator(".modal-submit").click()
    await expect(page.locator("#modal-layer")).to_be_hidden(timeout=WAIT_MS)
    status = page.locator("#timeline .message:not(.ephemeral)", has_text=PROCESS).first
    await expect(status).to_contain_text("completed", timeout=WAIT_MS)
    await status.locator(".thread-link").click()
    thread = page.locator("#thread-panel")
    for picked in ("Run completed", "checkout latency", "SEV2", "U0BOB", '"minutes": 10', '"page": true'):
        await expect(thread).to_contain_text(picked, timeout=WAIT_MS)
