"""``manifest.yml`` is the app people create in their workspace: it must have the shape Slack
expects, name the commands the bot listens for, and grant a scope for every Web API method the
bot and the workers' Slack tasks call. A missing scope only shows up in a real workspace as
``missing_scope`` in the middle of an incident, so the calls are found by reading the source.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import BotSettings

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
SCANNED = ("bot", "integrations")

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    # Web API method -> bot scopes the manifest must grant for it (empty: none needed).
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.delete": ("chat:write",),
    "views.open": (),
    "views.push": (),
    "views.update": (),
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.info": ("files:read",),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "conversations.create": ("channels:manage", "groups:write"),
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.setTopic": ("channels:manage", "groups:write"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.members": ("channels:read", "groups:read"),
    "conversations.list": ("channels:read", "groups:read"),
    "usergroups.list": ("usergroups:read",),
    "usergroups.users.list": ("usergroups:read",),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "users.lookupByEmail": ("users:read", "users:read.email"),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "reactions.get": ("reactions:read",),
}
WIDENING_SCOPES: dict[str, str] = {
    # Scopes no method needs but that widen one the code calls: scope -> that method.
    "chat:write.public": "chat.postMessage",  # https://api.slack.com/scopes/chat:write.public: post where not a member
}
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "reaction_added": ("reactions:read",),
}
REQUIRED_EVENTS = ("app_home_opened",)

# The Web API methods of slack_sdk's client (chat_postMessage -> chat.postMessage ...).
API_METHODS = {
    name.replace("_", "."): name for name, value in vars(AsyncWebClient).items()
    if inspect.iscoroutinefunction(value) and not name.startswith("_")
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


def web_api_calls(paths: list[Path]) -> dict[str, set[str]]:
    """Web API methods called in these files -> where: ``client.chat_postMessage(...)`` and calls
    naming a method as their first argument (``api_call("auth.test")``, a wrapper's ``_call(...)``)."""
    found: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            method = None
            if isinstance(node.func, ast.Attribute) and node.func.attr.replace("_", ".") in API_METHODS:
                method = node.func.attr.replace("_", ".")
            elif node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                named = node.args[0].value
                if "." in named and named in API_METHODS:
                    method = named
            if method:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.setdefault(method, set()).add(f"{where}:{node.lineno}")
    return found


def source_files() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py"))


def test_scanner_finds_both_call_styles(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("async def f(web, slack):\n    await web.chat_postMessage(channel='C', text='t')\n"
                     "    await slack._call('conversations.setTopic', channel='C')\n    web.not_an_api()\n")
    assert set(web_api_calls([probe])) == {"chat.postMessage", "conversations.setTopic"}


def test_structure(manifest: dict[str, Any]) -> None:
    assert manifest["display_information"]["name"]
    assert len(manifest["display_information"].get("description", "")) <= 140
    features = manifest["features"]
    assert features["bot_user"]["display_name"]
    assert features["app_home"]["home_tab_enabled"] is True
    for command in features["slash_commands"]:
        assert command["command"].startswith("/"), command
        assert command["description"] and command.get("usage_hint"), command
        assert command.get("should_escape") is True, f"{command['command']}: Slack must send <@U..> ids"
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    events = settings["event_subscriptions"]["bot_events"]
    assert set(REQUIRED_EVENTS) <= set(events), events
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)), "a scope is listed twice"
    assert "commands" in scopes, "slash commands need the commands scope"


def test_posts_reach_public_channels_the_bot_is_not_in(manifest: dict[str, Any]) -> None:
    """Without chat:write.public a SEV-1's exec notice to an #exec the bot was never invited to
    fails with not_in_channel (https://api.slack.com/methods/chat.postMessage#errors)."""
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert "chat:write.public" in scopes and "chat:write" in scopes, scopes


def test_slash_commands_match_bot_defaults(manifest: dict[str, Any]) -> None:
    names = [c["command"] for c in manifest["features"]["slash_commands"]]
    defaults = [BotSettings.model_fields[f].default for f in ("run_command", "runs_command")]
    assert sorted(names) == sorted(defaults)


def test_event_scopes(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event in EVENT_SCOPES, f"event {event} is not in EVENT_SCOPES in {__file__}: add its scopes there"
        missing = set(EVENT_SCOPES[event]) - scopes
        assert not missing, f"event {event} needs {sorted(missing)} in manifest.yml oauth_config.scopes.bot"


def test_every_called_method_has_its_scope(manifest: dict[str, Any]) -> None:
    calls = web_api_calls(source_files())
    assert "chat.postMessage" in calls, "the scan found no chat.postMessage: it is not reading the bot"
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    unknown = {m: sorted(w) for m, w in calls.items() if m not in METHOD_SCOPES}
    assert not unknown, (f"Web API methods called but not in METHOD_SCOPES ({__file__}): {unknown}. "
                         "Add each with the bot scopes Slack's docs list for it, and those scopes to manifest.yml.")
    missing = {m: sorted(set(METHOD_SCOPES[m]) - scopes) for m in calls if set(METHOD_SCOPES[m]) - scopes}
    assert not missing, f"manifest.yml lacks scopes for: {missing} (called at {[sorted(calls[m]) for m in missing]})"


def test_no_unused_scopes(manifest: dict[str, Any]) -> None:
    """Least privilege: every scope asked for is needed by a call, an event or the commands."""
    calls = web_api_calls(source_files())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed = {"commands"} | {s for m in calls for s in METHOD_SCOPES.get(m, ())}
    needed |= {s for e in events for s in EVENT_SCOPES.get(e, ())}
    needed |= {s for s, method in WIDENING_SCOPES.items() if method in calls}
    extra = set(manifest["oauth_config"]["scopes"]["bot"]) - needed
    assert not extra, f"manifest.yml asks for scopes nothing uses: {sorted(extra)}"


def settings_variables() -> set[str]:
    """Every environment variable the bot, the engine and the workers' Slack client read."""
    from engine.settings import Settings
    from integrations.slack import SlackSettings

    names: set[str] = set()
    for model in (BotSettings, Settings, SlackSettings):
        prefix = model.model_config.get("env_prefix", "")
        for name, info in model.model_fields.items():
            alias = info.validation_alias
            names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_docs_name_every_variable() -> None:
    """docs/connect-slack.md's table lists exactly the variables the code reads, spelled as it reads them."""
    doc = (ROOT / "docs" / "connect-slack.md").read_text()
    table = doc[doc.index("## Environment variables"):]
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, flags=re.MULTILINE))
    known = settings_variables()
    assert not documented - known, f"documented but read by nothing: {sorted(documented - known)}"
    missing = sorted(known - documented)
    assert not missing, f"read by the code but missing from docs/connect-slack.md: {missing}"
