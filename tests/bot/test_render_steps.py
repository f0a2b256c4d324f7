"""How steps are named in the thread and on the card: what a person recognises, not internals."""

from __future__ import annotations

from bot.render.card import step_name
from bot.render.thread import line


def test_shell_steps_show_the_command_not_the_interpreter_path() -> None:
    request = {"kind": "shell", "name": "/work/.venv/bin/python",
               "args": {"argv": ["/work/.venv/bin/python", "-m", "build", "--wheel"]}}
    assert step_name(request) == "python -m build --wheel"
    started = line({"type": "effect_requested", "key": "s1", "kind": "shell"}, {"s1": request})
    assert started == "▸ `python -m build --wheel` started"


def test_a_bare_command_keeps_its_name() -> None:
    assert step_name({"kind": "shell", "name": "promtool", "args": {"argv": ["promtool"]}}) == "promtool"


def test_tasks_show_their_function_and_gates_their_title() -> None:
    assert step_name({"kind": "task", "name": "processes.slo.tasks.validate_rules"}) == "validate_rules"
    assert step_name({"kind": "breakpoint", "name": "gate", "args": {"title": "Deploy web?"}}) == "Deploy web?"
