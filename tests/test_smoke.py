from engine.client import ShepherdClient
from tests.helpers import wait_for, wait_for_gate


async def test_gate_demo_runs_to_completion(client: ShepherdClient, worker) -> None:
    run_id = await client.start("gate-demo", {"name": "x"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    result = await client.decide(run_id, gate["key"], user="bob", approve=True)
    assert result.applied
    run = await wait_for(client, run_id)
    assert run.status == "completed"
    assert [s.state for s in run.steps] == ["done", "done", "done"]


async def test_front_ends_are_notified_of_every_change(client: ShepherdClient, worker, redis) -> None:
    from state import keys

    run_id = await client.start("gate-demo", {"name": "x"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    before = await redis.xlen(keys.NOTIFY_STREAM)
    assert before >= 2  # created, then steps journaled
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    await wait_for(client, run_id)
    entries = await redis.xrange(keys.NOTIFY_STREAM)
    assert len(entries) > before and {fields["run"] for _, fields in entries} == {run_id}
