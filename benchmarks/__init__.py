"""Engine benchmarks: ``python -m benchmarks [name]`` (``make bench``) prints their figures as JSON.

They are measurements, not tests: nothing here asserts on time. Each benchmark
drives the real engine (client, in-process ``engine.worker.Worker``, Lua
scripts) against a fresh embedded Redis in a temporary directory, or
``$REDIS_URL`` when it is set (its database is flushed before each benchmark),
and reports its figures beside a target and whether the target is met.

- ``engine_overhead_per_step_ms``: what the engine adds to each step of a run.
- ``decision_to_next_task_ms``: how long a person waits between clicking
  "approve" and the next task running.
- ``resume_long_run_ms``: the cost of a cold replay of a long journal (a worker
  that did not keep the run warm, e.g. after a restart or a gate).
- ``parked_runs``: what 10,000 runs waiting at a gate cost in Redis, and that
  they cost nothing in a worker.
"""
