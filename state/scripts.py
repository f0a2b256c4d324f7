"""Lua scripts: the only places where a run's state changes.

Each script takes the same six keys (``keys.run_keys``), which share one hash
tag, so it is atomic on a single Redis and stays in one slot on a Cluster.

- ``append``: the orchestrator's write. The expected journal length is the
  fencing token: a writer that replayed a stale journal is refused and reloads.
- ``resolve``: a worker, timer or person completes one effect. It applies once;
  a redelivered result is a no-op, whatever the journal length.
- ``decide`` / ``answer``: the compare-and-set on a gate. The first valid click
  wins and every later one learns who decided and when.
- ``signal``: a signal sent to a run (``engine.signals``): sender checked, id deduplicated,
  journaled in order.

The front ends' writes (``create_run``, an applied ``decide`` / ``answer`` / ``signal``, ``retry`` and
``cancel``) also record, in the same atomic write, that the run has work nobody has picked up
yet: the undispatched set gets ``@wake`` (and a cancel's clean-up step, its key).
Their wake on the queue comes after, outside the script, because the streams are global keys in
other Cluster slots; ``engine.sweeper`` explains how a lost wake is found.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from state.keys import WAKE_MARK

PRELUDE = r"""
local journal, meta, effects, gates, undispatched = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local signals = KEYS[6]
local WAKE = '""" + WAKE_MARK + r"""'
local TERMINAL = {completed = true, failed = true, cancelled = true}
local function run_status() return redis.call('HGET', meta, 'status') end
local function push(event)
  local n = redis.call('RPUSH', journal, event)
  redis.call('HSET', meta, 'seq', n)
  return n
end
local function contains(list, value)
  if type(list) ~= 'table' then return false end
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end
local function is_empty(list) return type(list) ~= 'table' or next(list) == nil end
-- Leases use the server's clock, the same clock that ages stream entries for XAUTOCLAIM,
-- so "an entry is reclaimable" implies "its task's lease has expired" whatever the workers' clocks say.
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function resolve_with(key, value_table, at)
  local event = cjson.encode({type = 'effect_resolved', key = key, ok = true, value = value_table, at = at})
  redis.call('HSET', effects, key, 'resolved')
  return push(event)
end
"""

CREATE_RUN = PRELUDE + r"""
-- ARGV: run_created event, meta fields as a JSON object
if redis.call('EXISTS', meta) == 1 then return 0 end
local fields = cjson.decode(ARGV[2])
for f, v in pairs(fields) do redis.call('HSET', meta, f, v) end
push(ARGV[1])
redis.call('SADD', undispatched, WAKE)
return 1
"""

APPEND = PRELUDE + r"""
-- ARGV: expected length, events (JSON array of JSON strings),
--       new effects (JSON array of [key, needs_dispatch]), gates (JSON object key -> JSON),
--       meta fields (JSON object). Returns {1, length, previous status} or a refusal.
local status = run_status()
local len = redis.call('LLEN', journal)
if status and TERMINAL[status] then return {-1, len, status} end
if len ~= tonumber(ARGV[1]) then return {0, len} end
-- Not fenced: the writer replayed the whole journal, every front end's write included.
redis.call('SREM', undispatched, WAKE)
for _, event in ipairs(cjson.decode(ARGV[2])) do len = push(event) end
for _, effect in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('HSETNX', effects, effect[1], 'requested') == 1 and effect[2] then
    redis.call('SADD', undispatched, effect[1])
  end
end
for key, gate in pairs(cjson.decode(ARGV[4])) do redis.call('HSETNX', gates, key, gate) end
for f, v in pairs(cjson.decode(ARGV[5])) do redis.call('HSET', meta, f, v) end
-- ARGV[6] (optional): what the replay itself settled. 'resolved': signal waits it served;
-- 'cancelled': ctx.first's losers (their effect cancelled, their gate closed); 'channels': signal
-- channels it declared (name -> record JSON), for front ends and the signal script to check.
if ARGV[6] and ARGV[6] ~= '' then
  local settled = cjson.decode(ARGV[6])
  for _, key in ipairs(settled.resolved or {}) do redis.call('HSET', effects, key, 'resolved') end
  for _, key in ipairs(settled.cancelled or {}) do
    local st = redis.call('HGET', effects, key)
    if st ~= 'resolved' and st ~= 'cancelled' then redis.call('HSET', effects, key, 'cancelled') end
    redis.call('SREM', undispatched, key)
    local raw = redis.call('HGET', gates, key)
    if raw then
      local gate = cjson.decode(raw)
      if gate.status == 'open' then
        gate.status, gate.superseded = 'cancelled', true  -- closed because something else came first
        redis.call('HSET', gates, key, cjson.encode(gate))
      end
    end
  end
  for name, record in pairs(settled.channels or {}) do redis.call('HSETNX', signals, 'channel:' .. name, record) end
end
return {1, len, status or ''}
"""

MARK_DISPATCHED = PRELUDE + r"""
-- ARGV: step keys whose queue entry or timer now exists
for _, key in ipairs(ARGV) do
  if redis.call('HGET', effects, key) == 'requested' then redis.call('HSET', effects, key, 'dispatched') end
  redis.call('SREM', undispatched, key)
end
return 1
"""

START_TASK = PRELUDE + r"""
-- ARGV: key, worker, lease_ms, queue entry id. Returns {verdict, attempt-or-status, owner's entry}.
-- 'busy' names the entry the running attempt came from: if it is this same entry (reclaimed
-- before its lease ran out) the caller must leave it pending, not drop it.
local key, worker, now, lease = ARGV[1], ARGV[2], server_ms(), tonumber(ARGV[3])
local st = redis.call('HGET', effects, key)
if not st then return {'unknown', '', ''} end
if st == 'resolved' or st == 'cancelled' then return {'done', st, ''} end
local status = run_status()
if TERMINAL[status] and redis.call('HGET', effects, key .. '#after_end') ~= '1' then return {'done', status, ''} end
if st == 'running' or st == 'backoff' then
  local until_ms = tonumber(redis.call('HGET', effects, key .. '#lease') or '0')
  if until_ms > now then
    local owner = st == 'running' and redis.call('HGET', effects, key .. '#entry') or ''
    return {'busy', st, owner or ''}
  end
end
local attempt = redis.call('HINCRBY', effects, key .. '#attempts', 1)
redis.call('HSET', effects, key, 'running', key .. '#lease', now + lease, key .. '#worker', worker,
           key .. '#entry', ARGV[4])
return {'go', attempt, ''}
"""

HEARTBEAT = PRELUDE + r"""
-- ARGV: key, worker, lease_ms. 1 while this worker still owns the task.
local key = ARGV[1]
if redis.call('HGET', effects, key) ~= 'running' then return 0 end
if redis.call('HGET', effects, key .. '#worker') ~= ARGV[2] then return 0 end
redis.call('HSET', effects, key .. '#lease', server_ms() + tonumber(ARGV[3]))
return 1
"""

BACKOFF = PRELUDE + r"""
-- ARGV: key, worker, delay_ms. Parks a failed attempt until its retry is due.
local key = ARGV[1]
if redis.call('HGET', effects, key) ~= 'running' then return 0 end
if redis.call('HGET', effects, key .. '#worker') ~= ARGV[2] then return 0 end
redis.call('HSET', effects, key, 'backoff', key .. '#lease', server_ms() + tonumber(ARGV[3]))
return 1
"""

REQUEUE = PRELUDE + r"""
-- ARGV: key. A due retry goes back to the queue only if it is still parked.
if redis.call('HGET', effects, ARGV[1]) ~= 'backoff' then return 0 end
redis.call('HSET', effects, ARGV[1], 'dispatched', ARGV[1] .. '#lease', 0)
return 1
"""

RESOLVE = PRELUDE + r"""
-- ARGV: key, effect_resolved event. Applies once; later deliveries are no-ops.
local key = ARGV[1]
local st = redis.call('HGET', effects, key)
if not st then return {0, 'unknown'} end
if st == 'resolved' or st == 'cancelled' then return {0, st} end
local status = run_status()
if TERMINAL[status] and redis.call('HGET', effects, key .. '#after_end') ~= '1' then return {0, status} end
redis.call('HSET', effects, key, 'resolved')
redis.call('HDEL', effects, key .. '#lease', key .. '#worker', key .. '#entry', key .. '#attempts')
return {1, push(ARGV[2])}
"""

GATE_PRELUDE = PRELUDE + r"""
local function load_gate(key)
  local raw = redis.call('HGET', gates, key)
  if not raw then return nil end
  return cjson.decode(raw)
end
local function save_gate(key, gate) redis.call('HSET', gates, key, cjson.encode(gate)) end
local function closed_reply(gate)
  return {'decided', gate.status, tostring(gate.decided_by or ''), tostring(gate.decided_at or ''),
          gate.approved and '1' or '0'}
end
local function may_act(gate, user, groups)
  if user == 'timeout' then return 'not_approver' end
  local open_to_all = is_empty(gate.users) and is_empty(gate.groups)
  local listed = contains(gate.users, user)
  if not listed and type(groups) == 'table' then
    for _, g in ipairs(groups) do if contains(gate.groups, g) then listed = true end end
  end
  if not open_to_all and not listed then return 'not_approver' end
  if gate.four_eyes and user == gate.requester then return 'four_eyes' end
  return nil
end
"""

DECIDE = GATE_PRELUDE + r"""
-- ARGV: key, user, groups JSON, approve ('1'/'0'), comment, at (ISO), expected kind
local key, user, approve, comment, at = ARGV[1], ARGV[2], ARGV[4] == '1', ARGV[5], ARGV[6]
local gate = load_gate(key)
if not gate or gate.kind ~= ARGV[7] then return {'unknown'} end
if gate.status ~= 'open' then return closed_reply(gate) end
local status = run_status()
if TERMINAL[status] then return {'closed', status} end
local refusal = may_act(gate, user, cjson.decode(ARGV[3]))
if refusal then return {'forbidden', refusal} end
if is_empty(gate.votes) then gate.votes = {} end
for _, vote in ipairs(gate.votes) do
  if vote.by == user then return {'already_voted', tostring(#gate.votes), tostring(gate.quorum)} end
end
local vote = {by = user, at = at, approved = approve}
if comment ~= '' then vote.comment = comment end
table.insert(gate.votes, vote)
if approve and #gate.votes < gate.quorum then
  save_gate(key, gate)
  return {'voted', tostring(#gate.votes), tostring(gate.quorum)}
end
gate.status, gate.approved, gate.decided_by, gate.decided_at = 'decided', approve, user, at
if comment ~= '' then gate.comment = comment end
save_gate(key, gate)
local decision = {approved = approve, by = user, at = at, votes = gate.votes,
                  escalated = gate.escalated or false, timed_out = false}
if comment ~= '' then decision.comment = comment end
redis.call('SADD', undispatched, WAKE)
return {'applied', tostring(resolve_with(key, decision, at))}
"""

ANSWER = GATE_PRELUDE + r"""
-- ARGV: key, user, groups JSON, answer JSON (already validated), at (ISO)
local key, user, at = ARGV[1], ARGV[2], ARGV[5]
local gate = load_gate(key)
if not gate or gate.kind ~= 'ask' then return {'unknown'} end
if gate.status ~= 'open' then return closed_reply(gate) end
local status = run_status()
if TERMINAL[status] then return {'closed', status} end
local refusal = may_act(gate, user, cjson.decode(ARGV[3]))
if refusal then return {'forbidden', refusal} end
gate.status, gate.decided_by, gate.decided_at, gate.approved = 'answered', user, at, true
save_gate(key, gate)
local event = '{"type":"effect_resolved","key":' .. cjson.encode(key) .. ',"ok":true,"by":'
  .. cjson.encode(user) .. ',"at":' .. cjson.encode(at) .. ',"value":' .. ARGV[4] .. '}'
redis.call('HSET', effects, key, 'resolved')
redis.call('SADD', undispatched, WAKE)
return {'applied', tostring(push(event))}
"""

GATE_TIMEOUT = GATE_PRELUDE + r"""
-- ARGV: key, now_ms, at (ISO). Applies the gate's declared on_timeout if it is still open
-- and due. Returns {'applied'|'escalated'|'not_due'|'closed', deadline_ms}.
local key, now, at = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local gate = load_gate(key)
if not gate or gate.status ~= 'open' then return {'closed', '0'} end
if TERMINAL[run_status()] then return {'closed', '0'} end
if (gate.deadline_ms or 0) == 0 or gate.deadline_ms > now then
  return {'not_due', tostring(gate.deadline_ms or 0)}
end
if gate.on_timeout == 'escalate' and not gate.escalated then
  gate.escalated = true
  gate.users, gate.groups = gate.escalate_users or {}, gate.escalate_groups or {}
  gate.deadline_ms = now + (gate.escalation_timeout_ms or 0)
  if (gate.escalation_timeout_ms or 0) == 0 then gate.deadline_ms = 0 end
  gate.on_timeout = 'reject'
  save_gate(key, gate)
  push(cjson.encode({type = 'gate_escalated', key = key, at = at,
                     users = gate.users, groups = gate.groups}))
  return {'escalated', tostring(gate.deadline_ms)}
end
local approve = gate.on_timeout == 'approve'
gate.status, gate.approved, gate.decided_by, gate.decided_at = 'timed_out', approve, 'timeout', at
save_gate(key, gate)
if gate.kind == 'ask' then
  local event = cjson.encode({type = 'effect_resolved', key = key, ok = false, at = at,
    error = {type = 'AskTimedOut', message = 'nobody answered "' .. gate.title .. '" in time'}})
  redis.call('HSET', effects, key, 'resolved')
  push(event)
  return {'applied', '0'}
end
resolve_with(key, {approved = approve, by = 'timeout', at = at, votes = gate.votes or {},
                   escalated = gate.escalated or false, timed_out = true}, at)
return {'applied', '0'}
"""

SIGNAL = GATE_PRELUDE + r"""
-- ARGV: name, signal id, sender, groups JSON, signal_received event (JSON, built by the client
-- from a validated payload), '1' if the channel's sender policy function allowed the sender.
-- Returns {'applied', journal length} or a refusal naming why.
local name, id, sender = ARGV[1], ARGV[2], ARGV[3]
local status = run_status()
if not status then return {'unknown'} end
local raw = redis.call('HGET', signals, 'channel:' .. name)
if not raw then return {'undeclared'} end
local channel = cjson.decode(raw)
local allowed
if channel.policy then
  allowed = ARGV[6] == '1'
elseif channel.anyone then
  allowed = true
elseif is_empty(channel.users) and is_empty(channel.groups) then
  allowed = sender == redis.call('HGET', meta, 'requester')
else
  allowed = may_act({users = channel.users, groups = channel.groups}, sender, cjson.decode(ARGV[4])) == nil
end
if not allowed then return {'forbidden'} end
local seen = redis.call('HGET', signals, 'id:' .. id)
if seen then
  local first = cjson.decode(seen)
  return {'duplicate', tostring(first.by or ''), tostring(first.at or ''), tostring(first.name or '')}
end
if TERMINAL[status] then return {'closed', status} end
local event = cjson.decode(ARGV[5])
redis.call('HSET', signals, 'id:' .. id, cjson.encode({by = sender, at = event.at, name = name}))
redis.call('SADD', undispatched, WAKE)
return {'applied', tostring(push(ARGV[5]))}
"""

CANCEL = PRELUDE + r"""
-- ARGV: by, reason, at (ISO), the cleanup step's key and its effect_requested event (both '' for
-- none). Cancels the run and every effect still pending, then journals the cleanup step: the one
-- step marked '#after_end', allowed to start and resolve after the run has ended.
local by, reason, at, cleanup_key, cleanup = ARGV[1], ARGV[2], ARGV[3], ARGV[4] or '', ARGV[5] or ''
local status = run_status()
if not status then return {'unknown'} end
if TERMINAL[status] then return {'terminal', status} end
local flat = redis.call('HGETALL', effects)
for i = 1, #flat, 2 do
  local key, st = flat[i], flat[i + 1]
  if not string.find(key, '#', 1, true) and st ~= 'resolved' and st ~= 'cancelled' then
    redis.call('HSET', effects, key, 'cancelled')
    push(cjson.encode({type = 'effect_cancelled', key = key, at = at}))
  end
end
local gflat = redis.call('HGETALL', gates)
for i = 1, #gflat, 2 do
  local gate = cjson.decode(gflat[i + 1])
  if gate.status == 'open' then
    gate.status = 'cancelled'
    redis.call('HSET', gates, gflat[i], cjson.encode(gate))
  end
end
redis.call('DEL', undispatched)
redis.call('SADD', undispatched, WAKE)  -- until the canceller has told the front ends (mark_dispatched)
push(cjson.encode({type = 'run_cancelled', by = by, reason = reason, at = at}))
redis.call('HSET', meta, 'status', 'cancelled', 'updated_at', at, 'cancelled_by', by)
if cleanup_key ~= '' then
  push(cleanup)
  redis.call('HSET', effects, cleanup_key, 'requested', cleanup_key .. '#after_end', '1')
  redis.call('SADD', undispatched, cleanup_key)
end
return {'cancelled', status}
"""

RETRY = PRELUDE + r"""
-- ARGV: by, at (ISO), step keys to run again (JSON array), expected journal length.
-- Reopens a failed run: the failed steps go back to 'requested' (and undispatched, so the next
-- orchestrator queues them) with their attempts forgotten, and a run_retried event tells replay
-- to forget their failed results and the run_failed. The length fences a concurrent retry.
local by, at, reset = ARGV[1], ARGV[2], cjson.decode(ARGV[3])
local status = run_status()
if not status then return {'unknown'} end
if status ~= 'failed' then return {'not_failed', status} end
if redis.call('LLEN', journal) ~= tonumber(ARGV[4]) then return {'moved'} end
for _, key in ipairs(reset) do
  redis.call('HSET', effects, key, 'requested')
  redis.call('HDEL', effects, key .. '#lease', key .. '#worker', key .. '#entry', key .. '#attempts')
  redis.call('SADD', undispatched, key)
end
redis.call('SADD', undispatched, WAKE)
push(cjson.encode({type = 'run_retried', by = by, reset = reset, at = at}))
redis.call('HSET', meta, 'status', 'running', 'updated_at', at, 'retried_by', by)
redis.call('HDEL', meta, 'error')
return {'retried', #reset}
"""

RELEASE_LOCK = r"""
-- KEYS: a run's lock, journal and undispatched set. ARGV: our token, the journal length the
-- orchestrator has seen ('' when the run is over). Releases the lock if still ours and returns
-- the journal length, so the releaser sees whether results landed meanwhile. A holder that saw
-- the whole journal has seen every front end's write, so it clears their wake mark; one that
-- did not goes round again (or dies, and the mark stays for the sweeper).
local len = redis.call('LLEN', KEYS[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] == '' or tonumber(ARGV[2]) == len then redis.call('SREM', KEYS[3], '""" + WAKE_MARK + r"""') end
end
return len
"""

CLAIM_TIMERS = r"""
-- KEYS: timers zset. ARGV: now_ms, lease_ms, limit. Claims due timers by pushing their
-- score past the lease; a claimer that dies lets them fall due again.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leased = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', leased, member) end
return due
"""

REMOVE_TIMER = r"""
-- KEYS: timers zset. ARGV: member, leased score. Removes the timer only if nobody
-- re-armed it (to any other time) since it was claimed.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""

#: Scripts over a run's six keys (``keys.run_keys``).
RUN_SCRIPTS: dict[str, str] = {
    "create_run": CREATE_RUN,
    "append": APPEND,
    "mark_dispatched": MARK_DISPATCHED,
    "start_task": START_TASK,
    "heartbeat": HEARTBEAT,
    "backoff": BACKOFF,
    "requeue": REQUEUE,
    "resolve": RESOLVE,
    "decide": DECIDE,
    "answer": ANSWER,
    "signal": SIGNAL,
    "gate_timeout": GATE_TIMEOUT,
    "cancel": CANCEL,
    "retry": RETRY,
}

#: Scripts over one key, or a few of one run's keys given explicitly.
SINGLE_KEY_SCRIPTS: dict[str, str] = {
    "release_lock": RELEASE_LOCK,
    "claim_timers": CLAIM_TIMERS,
    "remove_timer": REMOVE_TIMER,
}


class Scripts:
    """Registered scripts (EVALSHA with automatic reload on NOSCRIPT)."""

    def __init__(self, redis: Redis) -> None:
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(source)
            for name, source in {**RUN_SCRIPTS, **SINGLE_KEY_SCRIPTS}.items()
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    async def load_all(self) -> None:
        """Load every script (after a Redis restart emptied the script cache)."""
        for script in self._scripts.values():
            await script.registered_client.script_load(script.script)
