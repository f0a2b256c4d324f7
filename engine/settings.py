"""Configuration from the environment (pydantic-settings), never from chat text."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.policy import unset_if_blank


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHEPHERD_", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    data_dir: Path = Path(".shepherd")
    processes_path: str = ""
    """Extra directories of process modules, separated by ``:`` (like PATH)."""

    visibility_timeout: float = 30.0
    """Seconds a claimed queue entry may stay silent before another worker reclaims it."""
    max_deliveries: int = 5
    """Deliveries of one queue entry before it becomes a dead-letter record."""
    lock_ttl: float = 30.0
    """Seconds a run's orchestration lock lives without renewal."""
    concurrency: int = 10
    """Tasks one worker runs at once."""
    replay_cache_size: int = 256
    """Runs whose suspended process a worker keeps warm; 0 replays every wake from the top."""
    sweep_after: float = 10.0
    """Seconds after a front end's write (start, decision, cancel ...) that a worker checks its
    wake was not lost to a crash (``engine.sweeper``)."""
    timer_poll: float = 0.25
    """Seconds between checks for due timers when none is known to be sooner."""
    shutdown_grace: float = 30.0
    """Seconds a stopping worker waits for running tasks before leaving them to others."""
    user: str | None = None
    """Who the terminal front end acts as (defaults to the login name)."""
    permissions: Path | None = None
    """``SHEPHERD_PERMISSIONS``: the operators' permissions file (YAML); workers apply its gate defaults."""
    _blank_permissions = field_validator("permissions", mode="before")(unset_if_blank)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
