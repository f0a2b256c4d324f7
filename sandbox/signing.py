"""Slack's request signing (``v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")``).

HTTP-mode apps must reject anything not signed this way or older than five minutes; the
sandbox signs every delivery and can deliberately get it wrong so that refusal is tested.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNING_MODES = ("valid", "bad_signature", "stale_timestamp", "unsigned")
STALE_BY = 10 * 60
"""Seconds subtracted for ``stale_timestamp``: past the five minutes Bolt and Slack's docs allow."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, mode: str = "valid", now: float | None = None) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for a body, honest or not as ``mode`` says."""
    if mode not in SIGNING_MODES:
        raise ValueError(f"signing must be one of {', '.join(SIGNING_MODES)}")
    if mode == "unsigned":
        return {}
    timestamp = int(now if now is not None else time.time())
    if mode == "stale_timestamp":
        timestamp -= STALE_BY
    ts = str(timestamp)
    sig = signature(secret if mode != "bad_signature" else secret + "-wrong", ts, body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
