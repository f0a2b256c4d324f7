"""Hypothesis strategies for signed requests that are mostly what Slack sends, sometimes not.

Each field is usually a value Slack would send (so most examples get past the shape checks and
reach Bolt and the listeners) and sometimes any JSON at all: the door must answer every one of
them without a 5xx or a traceback (tests/bot/test_bot_signatures.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4) | st.sampled_from(
        ["shepherd_approve", "shepherd_fill_in", "U0ALICE", "C0OPS", '{"run": "r", "gate": "g"}'])
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "type", "value", "action_id", "callback_id", "private_metadata", "state", "values",
                         "user", "channel", "x"]), inner, max_size=4), max_leaves=8)


ANY = _json_values()


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually what Slack sends, sometimes anything: most examples get past the shape check."""
    return st.integers(0, 9).flatmap(lambda roll: ANY if roll == 0 else valid)


REF = st.sampled_from(['{"run": "r0", "gate": "g0"}', '{"run": "r0"}', "not json", "[]", ""]) | st.text(max_size=6)
CONTEXT = st.sampled_from(['{"run": "r0", "gate": "g0", "channel": "C0OPS"}', '{"process": "gate-demo", '
                           '"channel": "C0OPS"}', '{"process": "nope", "channel": "C0OPS"}', "{}", "null", "x"])
ACTION = st.fixed_dictionaries({"action_id": mostly(st.sampled_from(["shepherd_approve", "shepherd_reject",
                                                                     "shepherd_fill_in", "other"]))},
                               optional={"value": mostly(REF), "block_id": mostly(st.just("b")), "type": ANY})
INPUT = st.fixed_dictionaries({}, optional={"value": ANY, "type": ANY, "selected_option": ANY})
STATE = st.fixed_dictionaries({"values": mostly(st.dictionaries(
    st.sampled_from(["field:target", "shepherd_reason", "field:hours"]),
    st.dictionaries(st.sampled_from(["value", "reason"]), INPUT, max_size=2), max_size=2))})
VIEW = st.fixed_dictionaries({
    "id": mostly(st.just("V0X")), "type": mostly(st.just("modal")), "private_metadata": mostly(CONTEXT),
    "callback_id": mostly(st.sampled_from(["shepherd_start_form", "shepherd_answer_form", "shepherd_reject_reason"])),
    "state": mostly(STATE)})
INTERACTIONS = st.fixed_dictionaries(
    {"type": mostly(st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut",
                                     "message_action", "block_suggestion", "interactive_message"])),
     "user": mostly(st.just({"id": "U0ALICE", "team_id": "T0SANDBOX"}))},
    optional={"channel": mostly(st.just({"id": "C0OPS"})), "view": mostly(VIEW),
              "actions": mostly(st.lists(ACTION, min_size=1, max_size=2)),
              "team": mostly(st.just({"id": "T0SANDBOX"})), "trigger_id": mostly(st.just("1.2.3")),
              "message": mostly(st.fixed_dictionaries({"ts": st.just("1.0")}, optional={"thread_ts": ANY})),
              "container": mostly(st.just({"type": "message"})), "callback_id": mostly(st.just("c")),
              "action_id": mostly(st.just("a")), "response_urls": mostly(st.just([])),
              "authorizations": mostly(st.just([{"team_id": "T0SANDBOX"}])), "enterprise": mostly(st.none())})


NOT_TEXT = ANY.filter(lambda value: not isinstance(value, str))
EVENT = st.fixed_dictionaries(
    {"type": mostly(st.sampled_from(["app_home_opened", "app_mention", "message", "reaction_added"]))},
    # a user id is Slack's to give: a made-up one is a well-formed event that Slack refuses to act on
    optional={"user": st.integers(0, 9).flatmap(lambda roll: NOT_TEXT if roll == 0 else st.just("U0ALICE")),
              "channel": mostly(st.just("C0OPS")), "tab": mostly(st.just("home")),
              "text": mostly(st.just("<@U0SHEPHERD> hi")), "ts": mostly(st.just("1.0")), "view": ANY,
              "channel_type": mostly(st.just("channel")), "thread_ts": ANY, "item": ANY, "bot_id": ANY,
              "subtype": ANY, "message": ANY})
EVENTS = st.fixed_dictionaries(
    {"type": mostly(st.sampled_from(["event_callback", "url_verification", "app_rate_limited"])),
     "event": mostly(EVENT)},
    optional={"event_id": mostly(st.just("Ev0X")), "team_id": mostly(st.just("T0SANDBOX")),
              "authorizations": mostly(st.just([{"team_id": "T0SANDBOX", "user_id": "U0SHEPHERD"}])),
              "challenge": mostly(st.just("c")), "is_ext_shared_channel": ANY, "api_app_id": ANY})
