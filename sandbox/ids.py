"""Identifiers and timestamps in the shapes Slack uses.

Apps parse and compare these (a ``ts`` is a string that sorts like a number, a trigger id
has three dot-separated parts), so the sandbox hands out look-alikes instead of UUIDs.
"""

from __future__ import annotations

import secrets
import string
import time
import uuid

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_MIXED_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 10) -> str:
    """A Slack-style object id: a type letter (C, U, V, F, S, D...) and upper-case alphanumerics."""
    return prefix + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(length))


def new_short_id(length: int = 5) -> str:
    """Slack's generated ``block_id``/``action_id`` values are short mixed-case strings."""
    return "".join(secrets.choice(_MIXED_ALNUM) for _ in range(length))


def new_trigger_id() -> str:
    """``<millis>.<team number>.<hex>``, like ``13345224609.738474920.8088930838d88f008e0``."""
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def new_envelope_id() -> str:
    """Socket Mode envelope ids are UUIDs."""
    return str(uuid.uuid4())


def new_event_id() -> str:
    return new_id("Ev", 10)


def new_view_hash() -> str:
    """Views carry an opaque hash that changes on every update (``156772938.1827394``)."""
    return f"{int(time.time())}.{secrets.token_hex(4)}"


def ts_from(seconds: float) -> str:
    """Format epoch seconds as a Slack ``ts``: seconds, a dot, six digits."""
    micros = round(seconds * 1_000_000)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class TsClock:
    """Hands out strictly increasing ``ts`` strings.

    Slack message timestamps are unique per channel and are the message's identity; the
    sandbox keeps them unique across the whole workspace so a ts alone never collides.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        micros = max(time.time_ns() // 1000, self._last + 1)
        self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
