"""Everything about the simulated workspace and app that a test may want to change."""

from __future__ import annotations

from dataclasses import dataclass, field

BOT_SCOPES = frozenset({
    "commands", "chat:write", "chat:write.public", "files:write", "files:read", "channels:history",
    "groups:history", "channels:read", "groups:read", "channels:manage", "groups:write", "usergroups:read",
    "users:read", "users:read.email",
})
"""The scopes ``manifest.yml`` asks for (a test keeps the two equal): the app as installed."""


@dataclass
class SandboxConfig:
    """Identity, credentials and Slack's timing rules.

    The timing knobs default to Slack's real values (3 s to acknowledge, 3 s trigger_id
    lifetime); tests shrink them so timeout paths run in a fraction of a second.
    """

    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None
    """Base URL handed to apps (response_url, upload and WebSocket URLs); default: the bound address."""

    team_id: str = "T0SANDBOX"
    team_name: str = "Shepherd Sandbox"
    team_domain: str = "shepherd-sandbox"
    enterprise_id: str | None = None

    app_id: str = "A0SHEPHERD"
    bot_user_id: str = "U0SHEPHERD"
    bot_id: str = "B0SHEPHERD"
    bot_name: str = "shepherd"
    bot_display_name: str = "Shepherd"

    bot_token: str = "xoxb-sandbox"
    app_token: str = "xapp-sandbox"
    signing_secret: str = "sandbox-signing-secret"
    verification_token: str = "sandbox-verification-token"
    """The legacy ``token`` field Slack still puts in every payload."""

    request_url: str | None = None
    """An HTTP-mode app's endpoint; when set, deliveries go there instead of over Socket Mode."""
    bot_scopes: set[str] = field(default_factory=lambda: set(BOT_SCOPES))
    """The bot token's scopes; the methods that depend on one consult it (e.g. ``chat:write.public``)."""
    event_subscriptions: set[str] = field(default_factory=lambda: {"app_mention", "app_home_opened"})
    """Events API types delivered to the app; ``message.channels``/``message.im`` add message events."""

    should_escape: bool = True
    """Slash command text escapes @users, #channels and links as with the manifest's ``should_escape``
    (Shepherd's manifest sets it on both commands); ``&``, ``<`` and ``>`` are escaped either way."""

    ack_timeout: float = 3.0
    """Seconds the app has to acknowledge an envelope or answer an HTTP delivery."""
    trigger_ttl: float = 3.0
    """Seconds a trigger_id stays usable for views.open / views.push."""
    connect_wait: float = 2.0
    """Seconds a delivery waits for a Socket Mode connection before giving up."""
    disconnect_grace: float = 10.0
    """Seconds after a ``disconnect`` message before the server closes the old socket itself."""
    response_url_uses: int = 5
    """Slack accepts five posts per response_url."""
    tier_limits: bool = False
    """Enforce Slack's per-method-tier limits (``sandbox.ratelimit.TierLimits``); ``shepherd sandbox`` does."""
    retry_after: int = 30
    """``Retry-After`` seconds of a call refused by the tier limits (30 s is what Slack typically sends)."""
