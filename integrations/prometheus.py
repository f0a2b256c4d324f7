"""Prometheus HTTP API: instant and range queries, loaded rules, and a configuration reload.

Used by tasks only (process code does no I/O). Configuration comes from the environment
(``PROMETHEUS_URL``, ``PROMETHEUS_RULES_DIR``, optional ``PROMETHEUS_BEARER_TOKEN``); a call on an
unconfigured client raises ``PrometheusNotConfigured`` naming the setting, so a process can say
plainly what it could not do instead of pretending. The bearer token never appears in an error.
Basic auth is a ``user:password@`` in ``PROMETHEUS_URL``: it is taken out of the URL and sent as
the Authorization header, so the URL a client shows (in errors, notes, journaled config) has none.
"""

from __future__ import annotations

import base64
import math
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PrometheusSettings(BaseSettings):
    """``PROMETHEUS_*`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    url: str | None = Field(default=None, validation_alias="PROMETHEUS_URL")
    """Base URL of the Prometheus server, e.g. http://prometheus:9090 (no trailing /api/v1)."""
    rules_dir: Path | None = Field(default=None, validation_alias="PROMETHEUS_RULES_DIR")
    """A directory the server loads rule files from (matched by ``rule_files`` in its config)."""
    bearer_token: SecretStr | None = Field(default=None, validation_alias="PROMETHEUS_BEARER_TOKEN")
    timeout: float = Field(default=30.0, validation_alias="PROMETHEUS_TIMEOUT")

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @property
    def public_url(self) -> str | None:
        """``url`` without any ``user:password@``: what may be shown, logged or journaled."""
        return split_credentials(self.url)[0] if self.url else None


def split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without its user:password, those as a basic Authorization header value) — aiohttp
    would otherwise send them from the URL, and every message naming the URL would carry the password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return urlunsplit(parts._replace(netloc=host)), "Basic " + base64.b64encode(pair).decode()


class PrometheusError(Exception):
    """Prometheus refused or failed a request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PrometheusNotConfigured(PrometheusError):
    """The setting a call needs is unset; the message names it."""


class Sample(BaseModel):
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float
    at: float


class Series(BaseModel):
    """One series of a range query: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


def _when(value: datetime | float) -> str:
    return str(value.timestamp() if isinstance(value, datetime) else value)


def _number(text: str) -> float:
    return float(text)  # values arrive as strings, "NaN" and "+Inf" included; float() reads them all


class PrometheusClient:
    """An async client for one server: ``async with PrometheusClient(url) as prom: ...``."""

    def __init__(self, url: str, *, timeout: float = 30.0, bearer_token: str | None = None) -> None:
        if not url:
            raise PrometheusNotConfigured("Prometheus is not configured: set PROMETHEUS_URL")
        public, basic = split_credentials(url)
        if basic is not None and bearer_token:
            raise PrometheusError("Prometheus has two credentials: set PROMETHEUS_BEARER_TOKEN or a user:password "
                                  "in PROMETHEUS_URL, not both")
        self.url = public.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        authorization = f"Bearer {bearer_token}" if bearer_token else basic
        self._headers = {"Authorization": authorization} if authorization else {}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: PrometheusSettings | None = None) -> PrometheusClient:
        settings = settings or PrometheusSettings()
        if not settings.url:
            raise PrometheusNotConfigured("Prometheus is not configured: set PROMETHEUS_URL")
        token = settings.bearer_token.get_secret_value() if settings.bearer_token else None
        return cls(settings.url, timeout=settings.timeout, bearer_token=token)

    async def __aenter__(self) -> PrometheusClient:
        # trust_env=False: a proxy meant for the internet must not swallow a loopback Prometheus.
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers, trust_env=False)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use PrometheusClient as an async context manager")
        return self._session

    async def _api(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        """Call an /api/v1 endpoint and return its ``data``, or raise with Prometheus's own error."""
        try:
            async with self._http().request(method, f"{self.url}/api/v1/{path}", data=params if method == "POST"
                                             else None, params=params if method == "GET" else None) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    raise PrometheusError(f"Prometheus {path}: HTTP {resp.status}, not a JSON answer",
                                          resp.status) from None
        except aiohttp.ClientError as exc:
            raise PrometheusError(f"Prometheus at {self.url} is unreachable: {exc.__class__.__name__}: {exc}") \
                from None
        except TimeoutError:
            raise PrometheusError(f"Prometheus at {self.url} did not answer {path} in time") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            detail = body.get("error", body) if isinstance(body, dict) else body
            kind = body.get("errorType", "error") if isinstance(body, dict) else "error"
            raise PrometheusError(f"Prometheus {path} failed ({kind}): {detail}", resp.status)
        return body.get("data")

    async def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]:
        """An instant query; a scalar result comes back as one sample without labels."""
        params = {"query": expr, **({"time": _when(at)} if at is not None else {})}
        data = await self._api("POST", "query", params)
        kind, result = data.get("resultType"), data.get("result")
        if kind == "vector":
            return [Sample(labels=r["metric"], at=float(r["value"][0]), value=_number(r["value"][1]))
                    for r in result]
        if kind == "scalar":
            return [Sample(labels={}, at=float(result[0]), value=_number(result[1]))]
        raise PrometheusError(f"query {expr!r} returned a {kind}, not an instant vector or scalar")

    async def query_value(self, expr: str, at: datetime | float | None = None) -> float | None:
        """The single value of an instant query, or None when it has no data (or NaN)."""
        samples = await self.query(expr, at)
        if len(samples) > 1:
            raise PrometheusError(f"query {expr!r} returned {len(samples)} series; expected one (aggregate it)")
        if not samples or math.isnan(samples[0].value):
            return None
        return samples[0].value

    async def query_range(self, expr: str, start: datetime | float, end: datetime | float,
                          step: float) -> list[Series]:
        """A range query from ``start`` to ``end`` every ``step`` seconds."""
        params = {"query": expr, "start": _when(start), "end": _when(end), "step": f"{step:g}"}
        data = await self._api("POST", "query_range", params)
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"range query {expr!r} returned a {data.get('resultType')}, not a matrix")
        return [Series(labels=r["metric"], points=[(float(t), _number(v)) for t, v in r["values"]])
                for r in data["result"]]

    async def rules(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The loaded rule groups (``kind``: "alert" or "record" to filter)."""
        data = await self._api("GET", "rules", {"type": kind} if kind else None)
        return list(data.get("groups", []))

    async def reload(self) -> None:
        """Ask the server to re-read its configuration and rule files (needs --web.enable-lifecycle)."""
        try:
            async with self._http().post(f"{self.url}/-/reload") as resp:
                text = (await resp.text()).strip()
        except aiohttp.ClientError as exc:
            raise PrometheusError(f"Prometheus at {self.url} is unreachable: {exc.__class__.__name__}: {exc}") \
                from None
        if resp.status == 403 or "lifecycle" in text.lower():
            raise PrometheusError("Prometheus refused the reload: start it with --web.enable-lifecycle "
                                  "(or reload it with SIGHUP)", resp.status)
        if resp.status != 200:
            raise PrometheusError(f"Prometheus reload failed: HTTP {resp.status}: {text[:300]}", resp.status)

    async def ready(self) -> bool:
        """Whether the server answers /-/ready with 200."""
        try:
            async with self._http().get(f"{self.url}/-/ready") as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
