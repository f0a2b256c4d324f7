"""Every multi-key script touches keys of one Redis Cluster slot."""

from __future__ import annotations

import secrets

from redis.commands.core import AsyncScript
from redis.crc import key_slot

from state import keys
from state.scripts import RUN_SCRIPTS, SINGLE_KEY_SCRIPTS
from tests.helpers import wait_for, wait_for_gate


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_all_keys_of_a_run_share_one_slot() -> None:
    for _ in range(200):
        run_id = secrets.token_hex(5)
        run_keys = [*keys.run_keys(run_id), keys.lock(run_id), keys.artifact(run_id, "3.1/report")]
        assert len({slot(k) for k in run_keys}) == 1, run_keys


def test_runs_spread_over_slots() -> None:
    assert len({slot(keys.meta(secrets.token_hex(5))) for _ in range(200)}) > 100


def strip_comments(lua: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in lua.splitlines())


def test_every_script_reaches_redis_only_through_its_declared_keys() -> None:
    for name, source in {**RUN_SCRIPTS, **SINGLE_KEY_SCRIPTS}.items():
        body = strip_comments(source)
        for n in range(1, len(keys.run_keys("x")) + 1):
            body = body.replace(f"KEYS[{n}]", "")
        assert "KEYS" not in body, name
        assert "shepherd" not in body, f"{name} builds a key name inside Lua"


async def test_every_script_call_in_a_full_run_stays_in_one_slot(client, worker, monkeypatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    original = AsyncScript.__call__

    async def spy(self, keys=None, args=None, client=None):  # type: ignore[no-untyped-def]
        calls.append((self.script.split("-- ARGV", 1)[0][-40:], list(keys or [])))
        return await original(self, keys=keys, args=args, client=client)

    monkeypatch.setattr(AsyncScript, "__call__", spy)
    run_id = await client.start("approval-demo", {"service": "svc"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    ask = await wait_for_gate(client, run_id)
    await client.answer(run_id, ask["key"], user="bob", values={"summary": "ok"})
    assert (await wait_for(client, run_id)).status == "completed"
    assert len(calls) > 10
    for _, script_keys in calls:
        assert len({slot(k) for k in script_keys}) == 1, script_keys
