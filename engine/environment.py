"""What a shell step's process sees of the worker's environment, and what it may show of it.

A worker holds every integration's credentials in its environment (Slack, PagerDuty, GitHub,
Prometheus, Redis). A shell step runs a program a process names, and its output goes to the run's
journal and thread: a program that prints its environment (``env``, a verbose build, a crash
dump) would publish them. So a shell step gets the worker's environment without anything that
looks like a credential; a step that needs one gets it explicitly through ``env=`` (chosen by
process code from settings, never from chat text). Whatever a credential's value, it is also
masked in what the step printed, in case a program found it some other way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|BEARER|API_?KEY|ACCESS_KEY|ROUTING_KEY|PRIVATE_KEY",
                         re.I)
"""Variable names that hold credentials by their name (SLACK_BOT_TOKEN, PAGERDUTY_ROUTING_KEY, ...)."""
SECRET_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]+@", re.I)
"""A URL with a password in it (REDIS_URL=redis://:pw@host, PROMETHEUS_URL=http://u:pw@host)."""
MASK = "[redacted]"
MIN_SECRET_LENGTH = 6
"""Shorter values (``1``, ``true``) are not worth masking and would mangle ordinary output."""


def is_secret(name: str, value: str) -> bool:
    return bool(SECRET_NAME.search(name) or SECRET_URL.match(value))


def step_environment(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment minus its credentials, plus what the step asked for explicitly."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_secret(name, value)}
    env.update({str(k): str(v) for k, v in (extra or {}).items()})
    return env


def redact(text: str, base: Mapping[str, str] | None = None) -> str:
    """``text`` with the value of every credential in the worker's environment masked."""
    source = os.environ if base is None else base
    for name, value in source.items():
        if len(value) >= MIN_SECRET_LENGTH and is_secret(name, value) and value in text:
            text = text.replace(value, MASK)
    return text
