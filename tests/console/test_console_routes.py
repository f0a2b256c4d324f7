"""The console's HTTP side without a browser: files served, ``/`` for people, autocomplete entries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from engine.registry import PROCESSES
from sandbox import SandboxServer, console_routes
from shepherd.launcher import banner, suggestions


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(port=0) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session


async def test_static_files_and_index(server: SandboxServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/console/") as page:
        assert page.status == 200 and page.content_type == "text/html"
        html = await page.text()
    assert '<script src="/console/console.js">' in html and "https://" not in html  # nothing from a CDN
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        async with http.get(f"{server.url}/console/{name}") as asset:
            assert asset.status == 200 and asset.content_type == kind
            source = await asset.text()
            for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
                assert sink not in source  # app text never becomes markup or code
    async with http.get(f"{server.url}/console/../server.py") as escape:
        assert escape.status == 404
    async with http.get(f"{server.url}/console/launcher.py") as other:
        assert other.status == 404

    async with http.get(f"{server.url}/", headers={"Accept": "text/html"}, allow_redirects=False) as browser:
        assert browser.status == 302 and browser.headers["Location"] == "/console/"
    async with http.get(f"{server.url}/") as program:  # programs still get the JSON index
        assert (await program.json())["api"] == f"{server.url}/api/"


async def test_commands_default_then_registered(server: SandboxServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{server.url}/console/api/commands") as reply:
        listed = (await reply.json())["commands"]
    assert {c["command"] for c in listed} == {"/run", "/runs"}
    assert {"command": "/run", "text": "help", "usage": "/run help [process]",
            "description": "list the processes, or explain one"} in listed

    console_routes.register_commands(server.sandbox, suggestions({"gate-demo": PROCESSES["gate-demo"]}))
    async with http.get(f"{server.url}/console/api/commands") as reply:
        listed = (await reply.json())["commands"]
    assert listed[0] == {"command": "/run", "text": "gate-demo", "usage": "/run gate-demo <name>",
                         "description": "Do one step, wait for approval, do another."}
    assert len(listed) == 1 + len(console_routes.DEFAULT_SUGGESTIONS)


async def test_banner_names_people_and_warns_off_loopback(server: SandboxServer) -> None:
    text = banner(server, {"gate-demo": PROCESSES["gate-demo"]}, "embedded")
    assert f"{server.url}/console/" in text
    assert "mallory  U0MALLORY  Contractor (outsider)" in text and "@sre (S0SRE): bob, carol" in text
    assert server.bot_token not in text and server.app_token not in text
    assert "warning" not in text
    server.config.host = "0.0.0.0"
    assert "warning: listening on 0.0.0.0" in banner(server, {}, "embedded")
