"""One command text, one parse, whichever way it reached the bot.

Over Socket Mode the text arrives in a JSON envelope; over HTTP it is form-encoded and signed.
Quotes (plain and the smart ones phones type), unicode, Slack's escaped references
(``<@U0BOB|bob>``, ``<#C0OPS|ops>``, ``&amp;``) and words the bot itself treats as verbs must
come out of both as exactly what ``engine.arguments.parse_command`` makes of the text: the
inputs recorded in the started run's journal are compared with it.

Texts are given as a person types them; the sandbox escapes them as Slack does with
``should_escape`` on (``@bob`` arrives as ``<@U0BOB|bob>``, ``#ops`` as ``<#C0OPS|ops>``, ``&``,
``<``, ``>`` as entities), and the expected parse is of that escaped text (``tests.slack_text``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.arguments import ArgumentError, parse_command
from engine.client import ShepherdClient
from engine.registry import get_process
from tests.bot.conftest import WAIT, Harness, Slack
from tests.sandbox.control_client import eventually
from tests.slack_text import as_slack_sends

PROCESS = "echo-inputs"
STARTED = re.compile(r"Started \*Echo inputs\*: run `([^`]+)`")

ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    # (text after "/run echo-inputs", the inputs that differ from the defaults)
    ("", {}),
    ("   ", {}),
    ('deploy "two words"', {"target": "deploy", "note": "two words"}),
    ("deploy \u201csmart quoted words\u201d", {"target": "deploy", "note": "smart quoted words"}),
    ("\u2018single smart\u2019 plain", {"target": "single smart", "note": "plain"}),
    ("deploy it\u2019s", {"target": "deploy", "note": "it\u2019s"}),
    ('"caf\u00e9 \U0001f680" note=\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8',
     {"target": "caf\u00e9 \U0001f680", "note": "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8"}),
    ("who=@bob where=#ops", {"who": "U0BOB", "where": "C0OPS"}),
    ("@bob #ops", {"target": "U0BOB", "note": "C0OPS"}),
    ('"@bob" "#ops and @channel"', {"target": "@bob", "note": "#ops and @channel"}),
    ("target=help note=status", {"target": "help", "note": "status"}),
    ('status "help me cancel"', {"target": "status", "note": "help me cancel"}),
    ("tags=a,b,@carol --dry-run=yes", {"tags": ["a", "b", "U0CAROL"], "dry_run": True}),
    ("--target=--force DRY_RUN=on", {"target": "--force", "dry_run": True}),
    ("deploy note=", {"target": "deploy", "note": None}),
    ('deploy note=""', {"target": "deploy", "note": None}),
    ("deploy note=\"a & b <x>\"", {"target": "deploy", "note": "a & b <x>"}),
    ("deploy note='<https://evil.example|Approve here> &amp;'",
     {"target": "deploy", "note": "<https://evil.example|Approve here> &amp;"}),
    ("'--note=x' '\u00a0nbsp\u00a0'", {"target": "--note=x", "note": "\u00a0nbsp\u00a0"}),
    ("deploy \"said \u201chi\u201d, it\u2019s \u2018ok\u2019\"",
     {"target": "deploy", "note": "said \u201chi\u201d, it\u2019s \u2018ok\u2019"}),
    ("deploy key\\ with\\ spaces", {"target": "deploy", "note": "key with spaces"}),
]

REFUSED = [
    # (text, a piece of the error line each transport must show)
    ("deploy --force", "unknown input 'force'"),
    ('deploy "unclosed', "unclosed quote"),
    ("one two three", "unexpected argument 'three'"),
    ("dry-run=maybe", "input 'dry_run'"),
]


def expected(text: str) -> dict[str, Any]:
    definition = get_process(PROCESS)
    return parse_command(definition.inputs, definition.positional, as_slack_sends(text)).model_dump(mode="json")


def test_cases_mean_what_they_say() -> None:
    """The table above is checked against the parser itself, so a parser change shows here first."""
    defaults = get_process(PROCESS).inputs().model_dump(mode="json")
    for text, differs in ACCEPTED:
        assert expected(text) == {**defaults, **differs}, text
    for text, needle in REFUSED:
        with pytest.raises(ArgumentError, match=re.escape(needle)):
            expected(text)


async def recorded_inputs(client: ShepherdClient, run_id: str) -> dict[str, Any]:
    created = (await client.store.read_journal(run_id))[0]
    assert created["type"] == "run_created", created
    return created["inputs"]


async def test_same_parse_on_both_transports(harness: Harness, slack: Slack, client: ShepherdClient) -> None:
    mismatches = []
    for number, (text, _) in enumerate(ACCEPTED, start=1):
        await slack.command("U0ALICE", f"{PROCESS} {text}")

        async def replied(n: int = number) -> bool:
            return len(await slack.ephemerals("U0ALICE")) >= n

        try:
            await eventually(replied, WAIT)
        except AssertionError:
            raise AssertionError(f"no reply to {text!r} over {harness.transport}") from None
        reply = (await slack.ephemerals("U0ALICE"))[number - 1]
        match = STARTED.search(reply)
        assert match, f"{text!r} over {harness.transport} did not start a run: {reply}"
        got = await recorded_inputs(client, match[1])
        if got != expected(text):
            mismatches.append(f"{text!r}: recorded {got}, parser says {expected(text)}")
    assert not mismatches, f"over {harness.transport}:\n" + "\n".join(mismatches)
    assert len(await client.list_runs(limit=100)) == len(ACCEPTED)


async def test_same_refusals_on_both_transports(harness: Harness, slack: Slack, client: ShepherdClient) -> None:
    for number, (text, needle) in enumerate(REFUSED, start=1):
        await slack.command("U0ALICE", f"{PROCESS} {text}")

        async def replied(n: int = number) -> bool:
            return len(await slack.ephemerals("U0ALICE")) >= n

        await eventually(replied, WAIT)
        reply = (await slack.ephemerals("U0ALICE"))[number - 1]
        with pytest.raises(ArgumentError) as refused:
            expected(text)
        assert needle in reply, (text, reply)
        for line in refused.value.lines:
            line = line.replace(f"in: {text}", f"in: {PROCESS} {text}")  # the bot splits the whole text
            assert line in reply, f"{text!r} over {harness.transport}: {line!r} missing from {reply!r}"
    assert await client.list_runs() == []
    assert await slack.top() == []
