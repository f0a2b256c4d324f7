"""The quoting oracle (issue 10, item 20): a value typed quoted is received unchanged.

Whatever a person puts between quotes (other quotes, smart quotes, ``=``, ``--``, no-break
spaces, backslashes, ``<``, ``&``, ``@channel``, ``#ops``, links, commas) is what the process gets,
after Slack has escaped the command text (``should_escape``, as the sandbox does it) and the
bot has parsed it. Examples come from pieces that have bitten parsers, joined at random.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from engine.arguments import parse_command
from engine.registry import get_process
from tests.slack_text import as_slack_sends

PIECES = ["a", "Z", "9", " ", "  ", "\u00a0", "\t", "=", "--", "-x", "note=", "--note=x", "key=value", '"', "'",
          "\u201c", "\u201d", "\u2018", "\u2019", "it\u2019s", "\\", "\\\\", "<", ">", "&", "&amp;", "&lt;", "|",
          ",", "#", "@", "@bob", "@channel", "@here", "@sre", "#ops", "@nobody", "https://x.test/a?b=1&c=2",
          "<https://evil.example|Approve here>", "a.b@x.test", "<@U0BOB>", "<!channel>", "caf\u00e9", "\U0001f680",
          "$(id)", ";"]
VALUES = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=12).map("".join)
"""Values with no line breaks or control characters people cannot type into Slack's composer."""


def quotings(value: str) -> list[str]:
    """Every way a person can quote ``value`` that holds it literally."""
    ways = ['"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"']
    if "'" not in value:
        ways.append(f"'{value}'")
    if "\u201d" not in value:
        ways.append(f"\u201c{value}\u201d")
    if value:  # a backslash before every character that means something, and before the first
        ways.append("".join("\\" + c if k == 0 or c in _SPECIAL else c for k, c in enumerate(value)))
    return ways


_SPECIAL = frozenset(" \t\"'\u201c\u201d\u2018\u2019\\@#&<>")


def received(typed: str) -> dict:
    definition = get_process("echo-inputs")
    return parse_command(definition.inputs, definition.positional, as_slack_sends(typed)).model_dump()


def typeable(value: str) -> bool:
    return not any(c in "\r\n\x0b\x0c" or (ord(c) < 32 and c != "\t") for c in value)


@given(VALUES.filter(typeable))
@example("--note=x")
@example("he said \u201chi\u201d and \u2018bye\u2019")
@example("10\u00a0GB")
@example("@channel db down <https://evil.example|Approve here>")
def test_a_quoted_value_is_received_unchanged(value: str) -> None:
    for quoted in quotings(value):
        assert received(f"{quoted} x")["target"] == value, quoted  # positional
        assert received(f"deploy note={quoted}")["note"] == (value or None), quoted  # keyed; "" clears it
        assert received(f"--note={quoted} {quoted}")["target"] == value, quoted  # after another quoted word
