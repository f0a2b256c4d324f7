"""slo-setup from the terminal: bad targets refused before any run exists, a full run, its docs page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from processes.shelf import stale_shelf
from shepherd.discovery import load_processes
from shepherd.docs import DOCS_DIR, builtin, render, stale_pages
from tests.helpers import shepherd, start_worker, stop_worker, worker_env
from tests.processes.conftest import needs_promtool


@pytest.fixture
def env(redis_url: str, tmp_path: Path, redis, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # flushes
    for name in ("PROMETHEUS_URL", "PROMETHEUS_RULES_DIR"):
        monkeypatch.delenv(name, raising=False)
    return worker_env(redis_url, tmp_path)


@pytest.mark.parametrize(("target", "line"), [
    ("100", "error: input 'target': must be a percentage between 0 and 100 exclusive, e.g. 99.9; got 100 "
            "(100% leaves no error budget: no alert could ever be right)"),
    ("0", "error: input 'target': must be a percentage between 0 and 100 exclusive, e.g. 99.9; got 0"),
    ("abc", "error: input 'target': expected a number, got 'abc'"),
])
def test_invalid_targets_are_refused_and_start_no_run(env: dict[str, str], target: str, line: str) -> None:
    refused = shepherd(env, "run", "slo-setup", "service=checkout", f"target={target}")
    assert refused.returncode == 2
    assert refused.stderr == line + "\n" and refused.stdout == ""
    assert shepherd(env, "runs").stdout.strip() == "no runs"


@needs_promtool
def test_a_run_from_the_terminal(env: dict[str, str], tmp_path: Path) -> None:
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        started = shepherd(env, "run", "slo-setup", "service=checkout", "target=99.9", "--as", "alice")
        assert started.returncode == 0, started.stderr
        run_id = re.match(r"started run (\w+) \(slo-setup\)", started.stdout).group(1)  # type: ignore[union-attr]
        status = _wait(env, run_id, "waiting")
        assert f"→ shepherd approve {run_id} review    (Apply the checkout availability SLO (99.9% over 30d)?)" \
            in status
        assert shepherd(env, "approve", run_id, "review", "--as", "alice").returncode == 4  # four-eyes
        approved = shepherd(env, "approve", run_id, "review", "--as", "bob", "-m", "ship it")
        assert approved.returncode == 0, approved.stderr
        done = _wait(env, run_id, "completed")
        assert "📎 slo-checkout-availability.yml" in done and "📎 slo-checkout-availability-error-budget-policy.md" \
            in done
        assert "• Not applied: PROMETHEUS_RULES_DIR is not set." in done
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()


def _wait(env: dict[str, str], run_id: str, word: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = shepherd(env, "status", run_id).stdout
        if out.splitlines()[0].endswith(word):
            return out
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never became {word}:\n{out}")


def test_processes_lists_and_shows_the_docs_page(env: dict[str, str]) -> None:
    listed = shepherd(env, "processes")
    assert re.search(r"^slo-setup +Define a service level objective", listed.stdout, re.M), listed.stdout
    assert re.search(r"^slo-review +Review an SLO", listed.stdout, re.M)
    shown = shepherd(env, "processes", "slo-setup")
    assert shown.returncode == 0
    assert shown.stdout == (DOCS_DIR / "slo-setup.md").read_text() + "\n"


def test_committed_docs_pages_are_up_to_date() -> None:
    """Regenerate every built-in page in memory and compare: run `shepherd docs` when this fails."""
    definitions = builtin(load_processes())
    assert {"slo-setup", "slo-review"} <= {d.id for d in definitions}
    assert stale_pages(definitions) == []
    assert stale_shelf(definitions) == []  # processes/README.md


def test_docs_pages_say_what_a_process_needs_and_produces() -> None:
    page = render(load_processes()["slo-setup"])
    assert "| `target` | number | required | the objective in percent, between 0 and 100 exclusive" in page
    assert "| `window` | duration | `30d` |" in page
    assert "| `sli` | `availability` \\| `latency` | `availability` |" in page
    assert "## Outputs" in page and "| `budget_minutes` | number | minutes of full outage" in page
    assert "four-eyes review" in page


def test_docs_check_reports_a_stale_page(tmp_path: Path) -> None:
    from shepherd.docs import run

    shelf = tmp_path / "README.md"
    assert run(check=False, out=tmp_path, shelf=shelf) == 0
    assert run(check=True, out=tmp_path, shelf=shelf) == 0
    (tmp_path / "slo-setup.md").write_text("old\n")
    assert stale_pages(builtin(load_processes()), tmp_path) == [f"{tmp_path / 'slo-setup.md'} is out of date"]
    assert run(check=True, out=tmp_path, shelf=shelf) == 1
    run(check=False, out=tmp_path, shelf=shelf)
    shelf.write_text(shelf.read_text().replace("slo-review", "slo-reviews"))
    assert stale_shelf(builtin(load_processes()), shelf) == [f"{shelf} is out of date"]
    assert run(check=True, out=tmp_path, shelf=shelf) == 1
