"""Lost wakes: a front end's write whose wake never reached a worker is found and woken.

A start, a decision, an answer, a signal, a retry and a cancel each end in one Lua script on the run's
keys, followed by a wake on the queue (for a cancel: its clean-up step, and a notice to the front
ends). A bot killed between the two used to leave a run nothing would ever advance: only
``run_created`` in its journal, a gate shown "Approved" whose run waited forever, or a cancelled
run whose clean-up never ran.

Why the wake is not simply an XADD inside the script: every key a script touches must be in one
Redis Cluster slot, and a run's keys share the hash tag ``{run:<id>}`` while the work streams are
global keys in slots of their own (``tests/test_cluster_slots.py``). Routing a stream into each
run's slot would mean one stream per slot for workers to read, or grouping runs into a few shard
tags, which gives up spreading runs over the cluster. So the write and its wake are made
recoverable instead, in three steps, each legal on a Cluster:

1. Before the script, the front end arms a ``sweep`` timer for the run (the global timers zset,
   a command of its own) due ``sweep_after`` seconds later. Intent comes first: a crash before
   the script leaves a timer for a write that never happened, which finds nothing and is dropped.
2. The script records the work in the run's ``undispatched`` set atomically with the write:
   ``keys.WAKE_MARK`` for a start, an applied decision or answer, a signal, a retry and a cancel; the
   step's own key for a cancel's clean-up task (as an orchestrator does for the steps it journals).
3. The front end queues the wake as before: the fast path, nothing waits for the sweep. A cancel
   wakes no orchestrator (the run has ended): it queues its clean-up step, tells the front ends,
   and then clears its mark itself.

The worker's timer loop is the periodic sweeper: when a sweep timer falls due, anything still
in the run's undispatched set means its wake was lost (or is very late), and the worker advances
the run from a cold replay, which dispatches leftover steps, and tells the front ends to look.
An orchestrator clears the wake mark once it has seen the whole journal: when its fenced append
succeeds, or when it releases the run's lock and the journal has not grown since it read it. So a
run woken the normal way costs the sweep one SCARD.

The one gap left: a front end that stalls longer than ``sweep_after`` between arming the timer
and running its script, and then dies before queueing the wake. The timer removal only succeeds
when nobody re-armed it since it was claimed (``timers.done``), so a second write in the meantime
is still covered. Runs left stuck by a version without the sweep carry no mark and no timer, so
they are not found.
"""

from __future__ import annotations

from typing import Any

from state.timers import Timers, member, now_ms

SWEEP = "sweep"


def arm_sweep(timers: Timers, run_id: str, after_s: float, client: Any = None) -> Any:
    """Ask a worker to look at the run ``after_s`` from now, in case this write's wake is lost."""
    return timers.add(member(SWEEP, run_id), now_ms() + int(after_s * 1000), client=client)
