"""Configuration of the Slack front end, from the environment only (never from chat text).

Tokens are ``SecretStr`` so a settings object printed in a log or traceback shows ``**********``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.permissions import Permissions, load_permissions
from engine.policy import PolicyProblem, unset_if_blank


class SettingsProblem(Exception):
    """Required configuration is missing or wrong: one line for the operator."""


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    bot_token: SecretStr = Field(validation_alias="SLACK_BOT_TOKEN")
    app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    """Set: Socket Mode. Unset: HTTP mode (then a signing secret is required)."""
    signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")
    """Web API base URL override, e.g. the sandbox's ``http://127.0.0.1:8080/api/``."""
    port: int = Field(default=3000, validation_alias="PORT")
    host: str = Field(default="0.0.0.0", validation_alias="SHEPHERD_BOT_HOST")
    run_command: str = Field(default="/run", validation_alias="SHEPHERD_RUN_COMMAND")
    runs_command: str = Field(default="/runs", validation_alias="SHEPHERD_RUNS_COMMAND")
    post_interval: float = Field(default=1.0, validation_alias="SHEPHERD_SLACK_POST_INTERVAL")
    """Seconds between two posts to one channel (Slack allows about one per second)."""
    update_interval: float = Field(default=1.0, ge=0, validation_alias="SHEPHERD_SLACK_UPDATE_INTERVAL")
    """Seconds between two message edits in one channel (chat.update is Tier 3: 50+ per minute)."""
    home_interval: float = Field(default=5.0, ge=0, validation_alias="SHEPHERD_HOME_INTERVAL")
    """Seconds between two refreshes of one person's App Home (changes in between are combined)."""
    lock_ttl: float = Field(default=60.0, gt=0, validation_alias="SHEPHERD_SLACK_LOCK_TTL")
    """Seconds a run's sync lock lives unless renewed (it is renewed while the sync runs)."""
    restart_backoff: float = Field(default=0.5, gt=0, validation_alias="SHEPHERD_RESTART_BACKOFF")
    """Seconds before a crashed background task is restarted (doubling, up to 30 s)."""
    health_port: int | None = Field(default=None, validation_alias="SHEPHERD_HEALTH_PORT")
    """Socket Mode only: serve ``GET /healthz`` on this port (HTTP mode serves it beside /slack/events)."""
    reminder_interval: float = Field(default=3600.0, gt=0, validation_alias="SHEPHERD_REMINDER_INTERVAL")
    """Seconds a gate stays open (since it opened or was last reminded of) before a reminder is posted."""
    schedule_poll: float = Field(default=5.0, gt=0, validation_alias="SHEPHERD_SCHEDULE_POLL")
    """Seconds between two looks for due occurrences of recurring schedules."""

    permissions_file: Path | None = Field(default=None, validation_alias="SHEPHERD_PERMISSIONS")
    """Who may start what, default approvers, forced four-eyes (docs/permissions.md). Unset: everyone."""
    _permissions: Permissions = PrivateAttr(default_factory=Permissions)
    _blank_permissions = field_validator("permissions_file", mode="before")(unset_if_blank)

    @model_validator(mode="after")
    def _transport(self) -> BotSettings:
        if self.app_token is None and self.signing_secret is None:
            raise ValueError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
        return self

    @model_validator(mode="after")
    def _load_permissions(self) -> BotSettings:
        try:  # read once at startup: a bad file stops the bot with one line, never later at a click
            self._permissions = load_permissions(self.permissions_file)
        except PolicyProblem as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def permissions(self) -> Permissions:
        return self._permissions

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None


def load_bot_settings(**overrides: object) -> BotSettings:
    """Read settings; any problem becomes one ``SettingsProblem`` line (the CLI exits 2 with it)."""
    try:
        return BotSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            alias = BotSettings.model_fields[name].validation_alias if name in BotSettings.model_fields else None
            label = alias if isinstance(alias, str) else name
            problems.append(f"{label} is required" if error["type"] == "missing" else
                            f"{label}: {error['msg']}" if label else str(error["msg"]).removeprefix("Value error, "))
        raise SettingsProblem("; ".join(problems)) from None
