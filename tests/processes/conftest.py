"""Fixtures for the process tests: a real Prometheus on loopback scraping a tiny exporter.

Prometheus and promtool come from Debian's ``prometheus`` package (``.ci/run`` installs it); the
tests that need them carry the ``prometheus`` / ``promtool`` markers, and tests/preflight.py stops the
run with one line when a selected test needs a binary that is missing.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from engine.client import RunView, ShepherdClient
from state.store import RunStore
from tests.helpers import check_journal, wait_for

needs_prometheus = pytest.mark.prometheus
needs_promtool = pytest.mark.promtool


WAIT = 60.0  # a run includes promtool's unit tests: a few seconds on a shared machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Exporter:
    """Serves ``http_requests_total`` for service "checkout" with an exact error ratio.

    Each scrape adds ``per_scrape`` requests of which ``errors_per_scrape`` failed, so every rate
    Prometheus computes over it has exactly ``errors_per_scrape / per_scrape`` as its error ratio.
    A duration histogram puts exactly 1% of requests above its 0.3 s bucket.
    """

    url: str
    per_scrape: int
    errors_per_scrape: int
    scrapes: int = 0

    @property
    def error_ratio(self) -> float:
        return self.errors_per_scrape / self.per_scrape

    def metrics(self) -> bytes:
        self.scrapes += 1
        ok = (self.per_scrape - self.errors_per_scrape) * self.scrapes
        bad = self.errors_per_scrape * self.scrapes
        n = self.scrapes
        return ("# TYPE http_requests_total counter\n"
                f'http_requests_total{{service="checkout",code="200"}} {ok}\n'
                f'http_requests_total{{service="checkout",code="500"}} {bad}\n'
                f'http_requests_total{{service="other",code="500"}} {1000 * n}\n'
                "# TYPE http_request_duration_seconds histogram\n"  # 1% of requests slower than 300 ms
                f'http_request_duration_seconds_bucket{{service="checkout",le="0.1"}} {900 * n}\n'
                f'http_request_duration_seconds_bucket{{service="checkout",le="0.3"}} {990 * n}\n'
                f'http_request_duration_seconds_bucket{{service="checkout",le="+Inf"}} {1000 * n}\n'
                f'http_request_duration_seconds_count{{service="checkout"}} {1000 * n}\n'
                f'http_request_duration_seconds_sum{{service="checkout"}} {120 * n}\n').encode()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    port = free_port()
    state = Exporter(url=f"127.0.0.1:{port}", per_scrape=1000, errors_per_scrape=2)  # 0.2% errors

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state.metrics() if self.path == "/metrics" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Prometheus:
    url: str
    rules_dir: Path
    log: Path

    def query(self, expr: str) -> list[dict]:
        """A synchronous instant query for test assertions (the code under test uses its own client)."""
        import json
        import urllib.parse
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=10) as r:
            return json.load(r)["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 30, minimum: float | None = None) -> list[dict]:
        """Poll until the query has a result (and, with ``minimum``, its first value reaches it)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result and (minimum is None or float(result[0]["value"][1]) >= minimum):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no result for {expr} after {timeout}s:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.25)


@pytest.fixture
def prometheus(tmp_path: Path, exporter: Exporter) -> Iterator[Prometheus]:
    """A real Prometheus on a free loopback port, scraping ``exporter`` every second."""
    port, rules = free_port(), tmp_path / "rules"
    rules.mkdir()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {rules}/*.yml\n"
        f"scrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['{exporter.url}']\n")
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    server = Prometheus(url=f"http://127.0.0.1:{port}", rules_dir=rules, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.query("1")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"prometheus did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def rule_groups(url: str) -> list[dict]:
    async with aiohttp.ClientSession(trust_env=False) as session, session.get(f"{url}/api/v1/rules") as resp:
        return (await resp.json())["data"]["groups"]


# -- runs ---------------------------------------------------------------------------------


async def finish(client: ShepherdClient, redis: Redis, run_id: str) -> tuple[RunView, dict]:
    run = await wait_for(client, run_id, timeout=WAIT)
    assert run.status == "completed", run.meta.get("error")
    events = await RunStore(redis).read_journal(run_id)
    check_journal(events)
    return run, events[-1]["result"]


async def facts(redis: Redis, run_id: str, gate: dict) -> dict:
    """The facts a gate showed its reviewers (as journaled with its request)."""
    events = await RunStore(redis).read_journal(run_id)
    [asked] = [e for e in events if e["type"] == "effect_requested" and e["key"] == gate["key"]]
    return asked["args"]["facts"]


async def artifact(redis: Redis, run: RunView, name: str) -> bytes:
    [found] = [a for a in run.artifacts if a["name"] == name]
    content = await RunStore(redis).artifact(run.id, found["key"])
    assert content is not None
    return content
