"""Tests for engine.arguments: the command-text parser shared by the terminal and Slack."""

from __future__ import annotations

import pickle
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.arguments import (
    ArgumentError,
    missing_required,
    parse_arguments,
    parse_command,
    split_command_text,
    validate_inputs,
)
from engine.command_text import MAX_COMMAND_TEXT
from engine.errors import ProcessDefinitionError, ShepherdError


class Severity(StrEnum):
    SEV1 = "SEV-1"
    SEV2 = "SEV-2"
    SEV3 = "SEV-3"
    SEV4 = "SEV-4"


class Incident(BaseModel):
    title: str
    severity: Severity = Severity.SEV3
    bake: timedelta = timedelta(minutes=5)
    services: list[str] = Field(default_factory=list)
    dry_run: bool = False
    retries: int | None = None
    target: float | None = None
    owner: str | None = None
    channel: str | None = None
    notify: str | None = None


class Deploy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    version: str
    environment: Literal["staging", "production"] = Field("staging", alias="env")
    canary: Annotated[int, Field(ge=0, le=100)] = 10
    regions: tuple[str, ...] = ()
    reviewers: set[str] = Field(default_factory=set)
    window: timedelta | None = None

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not value[:1].isdigit():
            raise ValueError("must look like 1.2.3")
        return value


INCIDENT_POS = ("title",)
DEPLOY_POS = ("service", "version")


def lines(exc: pytest.ExceptionInfo[ArgumentError]) -> list[str]:
    return exc.value.lines


# --- ArgumentError ------------------------------------------------------------------------


def test_argument_error_joins_lines_and_is_a_value_error() -> None:
    err = ArgumentError(["a is bad", "b is bad"])
    assert err.lines == ["a is bad", "b is bad"]
    assert str(err) == "a is bad; b is bad"
    assert isinstance(err, ValueError)
    assert isinstance(err, ShepherdError)


def test_argument_error_accepts_one_line_and_survives_pickling() -> None:
    assert ArgumentError("only").lines == ["only"]
    copy = pickle.loads(pickle.dumps(ArgumentError(["x", "y"])))
    assert copy.lines == ["x", "y"]
    assert str(copy) == "x; y"


# --- split_command_text -------------------------------------------------------------------


def test_split_plain_and_quoted_key_value() -> None:
    text = 'api 1.2.3 title="quoted value with spaces" env=production'
    assert split_command_text(text) == [
        "api", "1.2.3", "title=quoted value with spaces", "env=production"
    ]


def test_split_single_quotes_and_backslash_escape() -> None:
    assert split_command_text("a='x y' b=c\\ d") == ["a=x y", "b=c d"]


def test_split_empty_and_blank() -> None:
    assert split_command_text("") == []
    assert split_command_text("   \t ") == []


def test_split_smart_double_quotes() -> None:
    assert split_command_text("title=“db is down” sev-1") == ["title=db is down", "sev-1"]


def test_split_smart_single_quotes() -> None:
    assert split_command_text("title=\u2018db is down\u2019") == ["title=db is down"]


def test_split_keeps_word_internal_smart_apostrophe() -> None:
    # iOS types a curly apostrophe in don't; it must not open a quote.
    assert split_command_text("title=“it\u2019s down” note=don\u2019t") == [
        "title=it\u2019s down", "note=don\u2019t"
    ]


def test_split_keeps_unicode() -> None:
    assert split_command_text('title="Ünïcode ☃ outage" 日本') == ["title=Ünïcode ☃ outage", "日本"]


def test_split_hash_is_not_a_comment() -> None:
    assert split_command_text("channel=#general #ops") == ["channel=#general", "#ops"]


def test_split_no_break_space_is_a_character_not_a_separator() -> None:
    # A no-break space says "do not break here": it stays in its word, as it was typed.
    assert split_command_text("a=1\u00a0b=2") == ["a=1\u00a0b=2"]
    assert split_command_text('note="10\u00a0GB"') == ["note=10\u00a0GB"]


@pytest.mark.parametrize("text", ['title="oops', "title='oops", "title=“oops", "a b \u2018c"])
def test_split_unclosed_quote(text: str) -> None:
    with pytest.raises(ArgumentError) as exc:
        split_command_text(text)
    assert lines(exc) == [f"unclosed quote in: {text}"]


def test_split_dangling_backslash() -> None:
    with pytest.raises(ArgumentError) as exc:
        split_command_text("a=b \\")
    assert lines(exc) == ["dangling backslash in: a=b \\"]


def test_split_keeps_equals_after_the_first() -> None:
    assert split_command_text("q=key=value=with=equals") == ["q=key=value=with=equals"]


@pytest.mark.parametrize(
    "value",
    ["; rm -rf /", "$(whoami)", "`id`", "a && b || c", "x | tee /etc/passwd", "> /dev/null",
     "$HOME", "*", "~"],
)
def test_split_shell_metacharacters_stay_literal(value: str) -> None:
    assert split_command_text(f'title="{value}"') == [f"title={value}"]


def test_split_unquoted_metacharacters_are_just_text() -> None:
    assert split_command_text("title=a;b $(whoami)") == ["title=a;b", "$(whoami)"]


def test_split_keeps_slack_reference_labels_intact() -> None:
    # A label's spaces and quotes do not split or quote: the reference decodes to its id / URL.
    text = "owner=<@U123|alice smith> link=<https://x.test/a|Bob's page>"
    assert split_command_text(text) == ["owner=U123", "link=https://x.test/a"]


def test_split_quoted_references_are_the_text_as_typed() -> None:
    # Slack rewrote what the person typed (should_escape); quoted, they get back what they typed.
    text = "note=\"ping <@U1|alice>, <#C2|ops>, <!subteam^S3|@sre>, <!here> at <http://x.test|x.test>\""
    assert split_command_text(text) == ["note=ping @alice, #ops, @sre, @here at x.test"]


def test_split_special_mentions_become_plain_words() -> None:
    assert split_command_text("<!channel> <!here> <!everyone>") == ["@channel", "@here", "@everyone"]


def test_split_backslash_keeps_what_slack_escaped_as_typed() -> None:
    # Typed \& and \@bob arrive as \&amp; and \<@U0BOB|bob>: the backslash keeps the typed character(s).
    assert split_command_text("a\\&amp;b \\<@U0BOB|bob> c\\ d") == ["a&b", "@bob", "c d"]


def test_split_entities_decode_once() -> None:
    # The person typed "&lt;" literally (Slack sent &amp;lt;): they get "&lt;", not "<".
    assert split_command_text("a=&amp;lt; 'b=&amp;lt;'") == ["a=&lt;", "b=&lt;"]
    assert split_command_text("&lt;https://evil.example|Approve here&gt;") == ["<https://evil.example|Approve"
                                                                               , "here>"]


# --- quoting means "literally this" (issue 10, item 20) ------------------------------------


def test_quoted_key_value_is_a_positional_value() -> None:
    raw = parse_arguments(Incident, INCIDENT_POS, split_command_text("'--note=x'"))
    assert raw == {"title": "--note=x"}
    raw = parse_arguments(Incident, INCIDENT_POS, split_command_text('"title=x y"'))
    assert raw == {"title": "title=x y"}


def test_quoted_value_after_a_typed_key_is_still_keyed() -> None:
    assert parse_arguments(Incident, (), split_command_text("title='--note=x'")) == {"title": "--note=x"}
    assert parse_arguments(Incident, (), split_command_text("--title=\"a b\"")) == {"title": "a b"}


def test_smart_quotes_inside_a_quoted_value_stay() -> None:
    text = "title=\"he said \u201chi\u201d and \u2018bye\u2019\" owner=bob"
    assert split_command_text(text) == ["title=he said \u201chi\u201d and \u2018bye\u2019", "owner=bob"]
    assert split_command_text("title='it\u2019s' owner=bob") == ["title=it\u2019s", "owner=bob"]
    assert split_command_text("title=\u201csay \"x\"\u201d b") == ['title=say "x"', "b"]


def test_split_is_linear_and_long_text_is_refused_in_one_line() -> None:
    assert len(split_command_text("x" * MAX_COMMAND_TEXT)) == 1
    with pytest.raises(ArgumentError) as exc:
        split_command_text("a" * 1_000_000)
    assert lines(exc) == ["the command text is too long: 1,000,000 characters (at most 4,000)"]


# --- parse_arguments: binding -------------------------------------------------------------


def test_positionals_fill_in_order_with_tuple_of_names() -> None:
    raw = parse_arguments(Deploy, ("service", "version"), ["api", "1.2.3"])
    assert raw == {"service": "api", "version": "1.2.3"}


def test_positional_names_may_be_a_list_and_tokens_a_tuple() -> None:
    assert parse_arguments(Deploy, ["service"], ("api", "version=2")) == {
        "service": "api", "version": "2"
    }


def test_fewer_positionals_than_slots_is_fine() -> None:
    assert parse_arguments(Deploy, DEPLOY_POS, ["api"]) == {"service": "api"}


def test_key_value_dash_underscore_case_and_alias() -> None:
    raw = parse_arguments(Incident, (), ["Dry-Run=yes", "TITLE=x", "--retries=3"])
    assert raw == {"dry_run": True, "title": "x", "retries": "3"}
    assert parse_arguments(Deploy, (), ["ENV=production"]) == {"environment": "production"}
    assert parse_arguments(Deploy, (), ["environment=production"]) == {
        "environment": "production"
    }


def test_value_keeps_everything_after_first_equals() -> None:
    assert parse_arguments(Incident, (), ["title=key=value=with=equals"]) == {
        "title": "key=value=with=equals"
    }


def test_token_without_identifier_key_is_positional() -> None:
    assert parse_arguments(Incident, INCIDENT_POS, ["=x"]) == {"title": "=x"}
    assert parse_arguments(Incident, INCIDENT_POS, ["a b=c"]) == {"title": "a b=c"}


def test_unknown_key() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Deploy, DEPLOY_POS, ["api", "colour=red"])
    assert lines(exc) == [
        "unknown input 'colour' (expected one of: service, version, environment, canary, "
        "regions, reviewers, window)"
    ]


def test_flag_without_value_asks_for_one() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Incident, (), ["--dry-run"])
    assert lines(exc) == ["input 'dry_run' needs a value: dry_run=..."]


def test_too_many_positionals() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Deploy, DEPLOY_POS, ["api", "1.2.3", "extra", "more"])
    assert lines(exc) == [
        "unexpected argument 'extra' (this process takes 2 positional: service, version)",
        "unexpected argument 'more' (this process takes 2 positional: service, version)",
    ]


def test_positional_when_process_takes_none() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Incident, (), ["boom"])
    assert lines(exc) == ["unexpected argument 'boom' (this process takes only key=value)"]


def test_same_key_twice() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Incident, (), ["title=a", "title=b"])
    assert lines(exc) == ["input 'title' given twice"]


def test_same_field_by_position_and_key_and_alias() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Deploy, DEPLOY_POS, ["api", "service=web"])
    assert lines(exc) == ["input 'service' given twice"]
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Deploy, (), ["env=staging", "environment=production"])
    assert lines(exc) == ["input 'environment' given twice"]


def test_all_binding_errors_reported_together() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(
            Incident, INCIDENT_POS,
            ["outage", "extra", "nope=1", "bake=abc", "dry_run=maybe", "title=again"],
        )
    assert lines(exc) == [
        "unexpected argument 'extra' (this process takes 1 positional: title)",
        "unknown input 'nope' (expected one of: title, severity, bake, services, dry_run, "
        "retries, target, owner, channel, notify)",
        "input 'bake': expected a duration like 30s, 5m, 2h or 1d, got 'abc'",
        "input 'dry_run': expected yes or no (or true/false, on/off), got 'maybe'",
        "input 'title' given twice",
    ]
    assert str(exc.value) == "; ".join(exc.value.lines)


def test_positional_that_is_not_a_field_is_a_definition_bug() -> None:
    with pytest.raises(ProcessDefinitionError):
        parse_arguments(Incident, ("nope",), ["x"])


def test_command_text_string_is_split() -> None:
    assert parse_arguments(Incident, INCIDENT_POS, '"db down" dry_run=on') == {
        "title": "db down", "dry_run": True
    }


# --- parse_arguments: coercion ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("90", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("2 hours", timedelta(hours=2)),
        ("10min", timedelta(minutes=10)),
        ("5M", timedelta(minutes=5)),
        ("PT5M", timedelta(minutes=5)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("pt1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
        ("0", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_arguments(Incident, (), [f"bake={text}"]) == {"bake": expected}


@pytest.mark.parametrize("text", ["abc", "5x", "1h30", "-5m", "P", "PT", "P1Y", "h", "5 m m",
                                  "99999999999999d"])
def test_bad_duration(text: str) -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Incident, (), [f"bake={text}"])
    assert lines(exc) == [f"input 'bake': expected a duration like 30s, 5m, 2h or 1d, got '{text}'"]


def test_optional_duration_and_empty_value_clears_optional() -> None:
    assert parse_arguments(Deploy, (), ["window=15m"]) == {"window": timedelta(minutes=15)}
    assert parse_arguments(Deploy, (), ["window="]) == {"window": None}
    assert parse_arguments(Incident, (), ["retries="]) == {"retries": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), ("YES", True), ("true", True), ("On", True), ("1", True),
     ("no", False), ("False", False), ("off", False), ("0", False), ("NO", False)],
)
def test_bools(text: str, expected: bool) -> None:
    assert parse_arguments(Incident, (), [f"dry_run={text}"]) == {"dry_run": expected}


def test_bad_bool() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_arguments(Incident, (), ["dry-run=perhaps"])
    assert lines(exc) == ["input 'dry_run': expected yes or no (or true/false, on/off), got 'perhaps'"]


def test_list_split_on_commas_dropping_empty_items() -> None:
    raw = parse_arguments(Incident, (), ["services=a,b, c,,  ,d,"])
    assert raw == {"services": ["a", "b", "c", "d"]}


def test_tuple_and_set_fields_split_too() -> None:
    raw = parse_arguments(Deploy, (), ["regions=eu-west-1, us-east-1", "reviewers=<@U1|al>,@bo"])
    assert raw == {"regions": ["eu-west-1", "us-east-1"], "reviewers": ["U1", "@bo"]}
    model = validate_inputs(Deploy, {**raw, "service": "api", "version": "1.0"})
    assert model.regions == ("eu-west-1", "us-east-1")
    assert model.reviewers == {"U1", "@bo"}


def test_quoted_list_with_spaces_and_empty_list() -> None:
    assert parse_arguments(Incident, (), split_command_text('services="web app, db"')) == {
        "services": ["web app", "db"]
    }
    assert parse_arguments(Incident, (), ["services="]) == {"services": []}


def test_user_mentions_unescaped_to_ids() -> None:
    raw = parse_arguments(Incident, (), ["owner=<@U123ABC|alice>", "notify=<@W999>"])
    assert raw == {"owner": "U123ABC", "notify": "W999"}


def test_plain_at_name_stays() -> None:
    assert parse_arguments(Incident, (), ["owner=@alice"]) == {"owner": "@alice"}


def test_channel_reference_unescaped_and_plain_channel_stays() -> None:
    assert parse_arguments(Incident, (), ["channel=<#C123|general>"]) == {"channel": "C123"}
    assert parse_arguments(Incident, (), ["channel=<#C456>"]) == {"channel": "C456"}
    assert parse_arguments(Incident, (), ["channel=#general"]) == {"channel": "#general"}


def test_subteam_reference_unescaped() -> None:
    assert parse_arguments(Incident, (), ["notify=<!subteam^S123|@oncall>"]) == {"notify": "S123"}


def test_references_in_list_items() -> None:
    raw = parse_arguments(
        Incident, (), ["services=<@U1|a>,<#C2|ops>,<!subteam^S3|@sre>,@dave,#web"]
    )
    assert raw == {"services": ["U1", "C2", "S3", "@dave", "#web"]}


def test_reference_labels_with_commas_and_spaces_stay_one_item() -> None:
    raw = parse_arguments(Incident, (), split_command_text("services=<@U1|Smith, Al>,<@U2>"))
    assert raw == {"services": ["U1", "U2"]}


def test_positional_values_are_unescaped_too() -> None:
    assert parse_arguments(Incident, ("owner",), ["<@U77|zed>"]) == {"owner": "U77"}


def test_references_inside_longer_text_are_unescaped_too() -> None:
    raw = parse_arguments(
        Incident, INCIDENT_POS,
        ["db down, ping <@U1|alice> in <#C2|ops> and <!subteam^S3|@sre> or <@U4>"],
    )
    assert raw == {"title": "db down, ping U1 in C2 and S3 or U4"}


def test_slack_html_entities_and_links_are_decoded() -> None:
    raw = parse_arguments(
        Incident, (),
        ["title=a &lt; b &amp;&amp; c &gt; d", "owner=<mailto:a@b.test|a@b.test>",
         "notify=<https://status.test/x?a=1&amp;b=2|status>"],
    )
    assert raw == {
        "title": "a < b && c > d", "owner": "a@b.test", "notify": "https://status.test/x?a=1&b=2"
    }


def test_angle_brackets_that_are_not_references_stay() -> None:
    assert parse_arguments(Incident, INCIDENT_POS, ["<not a ref>"]) == {"title": "<not a ref>"}
    assert parse_arguments(Incident, INCIDENT_POS, ["&amp;lt;"]) == {"title": "&lt;"}


def test_enum_and_literal_choices_forgive_case() -> None:
    assert parse_arguments(Incident, (), ["severity=sev-1"]) == {"severity": Severity.SEV1}
    assert parse_arguments(Incident, (), ["severity=SEV2"]) == {"severity": Severity.SEV2}
    assert parse_arguments(Deploy, (), ["env=PRODUCTION"]) == {"environment": "production"}
    assert parse_arguments(Incident, (), ["severity=SEV-9"]) == {"severity": "SEV-9"}


def test_unicode_values_pass_through() -> None:
    assert parse_arguments(Incident, (), split_command_text('title="Ünïcode ☃ outage"')) == {
        "title": "Ünïcode ☃ outage"
    }


@pytest.mark.parametrize("value", ["; rm -rf /", "$(whoami)", "`reboot`", "a && b"])
def test_shell_metacharacters_stay_literal_values(value: str) -> None:
    assert parse_arguments(Incident, (), [f"title={value}"]) == {"title": value}


# --- validate_inputs ----------------------------------------------------------------------


def test_validate_ok() -> None:
    model = validate_inputs(Incident, {"title": "x", "target": "99.5", "retries": "2"})
    assert model.title == "x"
    assert model.target == 99.5
    assert model.retries == 2


def test_bad_enum() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Incident, {"title": "x", "severity": "SEV-9"})
    assert lines(exc) == [
        "input 'severity': expected one of SEV-1, SEV-2, SEV-3, SEV-4, got 'SEV-9'"
    ]


def test_bad_literal_is_named_by_field_not_alias() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Deploy, {"service": "a", "version": "1", "environment": "prod"})
    assert lines(exc) == ["input 'environment': expected one of staging, production, got 'prod'"]


def test_missing_required_field() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Incident, {})
    assert lines(exc) == ["input 'title': required"]


def test_bad_float_and_int() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Incident, {"title": "x", "target": "abc", "retries": "1.5"})
    assert lines(exc) == [
        "input 'retries': expected a whole number, got '1.5'",
        "input 'target': expected a number, got 'abc'",
    ]


def test_constraint_and_custom_validator_messages() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Deploy, {"service": "a", "version": "v1", "canary": "150"})
    assert lines(exc) == [
        "input 'version': must look like 1.2.3",
        "input 'canary': must be less than or equal to 100, got '150'",
    ]


def test_list_item_error_names_the_item() -> None:
    class Ports(BaseModel):
        ports: list[int]

    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Ports, {"ports": ["80", "http"]})
    assert lines(exc) == ["input 'ports[1]': expected a whole number, got 'http'"]


def test_extra_input_rejected_by_model_reads_like_unknown_key() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Deploy, {"service": "a", "version": "1", "colour": "red"})
    assert lines(exc) == [
        "unknown input 'colour' (expected one of: service, version, environment, canary, "
        "regions, reviewers, window)"
    ]


def test_validate_reports_every_error_together() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Incident, {"severity": "SEV-0", "target": "x"})
    assert lines(exc) == [
        "input 'title': required",
        "input 'severity': expected one of SEV-1, SEV-2, SEV-3, SEV-4, got 'SEV-0'",
        "input 'target': expected a number, got 'x'",
    ]


def test_long_bad_values_are_shortened() -> None:
    with pytest.raises(ArgumentError) as exc:
        validate_inputs(Incident, {"title": "x", "target": "9" * 30 + "x" * 50})
    assert exc.value.lines[0].endswith("…'")
    assert len(exc.value.lines[0]) < 110


# --- parse_command ------------------------------------------------------------------------


def test_parse_command_from_text() -> None:
    model = parse_command(
        Incident, INCIDENT_POS,
        '“Ünïcode ☃ outage” severity=sev-1 bake=1h30m services=web,db dry-run=yes '
        "owner=<@U123ABC|alice> channel=<#C1|inc> target=99.9",
    )
    assert model == Incident(
        title="Ünïcode ☃ outage", severity=Severity.SEV1, bake=timedelta(minutes=90),
        services=["web", "db"], dry_run=True, owner="U123ABC", channel="C1", target=99.9,
    )


def test_parse_command_from_tokens_with_alias_model() -> None:
    model = parse_command(Deploy, DEPLOY_POS, ["api", "1.2.3", "env=production", "canary=25"])
    assert model.environment == "production"
    assert model.canary == 25


def test_parse_command_shell_metacharacters_are_data() -> None:
    model = parse_command(Incident, INCIDENT_POS, 'x owner="; rm -rf /" notify=$(whoami)')
    assert model.owner == "; rm -rf /"
    assert model.notify == "$(whoami)"


def test_parse_command_reports_binding_and_validation_errors_together() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_command(Incident, (), "severity=SEV-9 bake=soon colour=red target=abc")
    assert lines(exc) == [
        "input 'bake': expected a duration like 30s, 5m, 2h or 1d, got 'soon'",
        "unknown input 'colour' (expected one of: title, severity, bake, services, dry_run, "
        "retries, target, owner, channel, notify)",
        "input 'title': required",
        "input 'severity': expected one of SEV-1, SEV-2, SEV-3, SEV-4, got 'SEV-9'",
        "input 'target': expected a number, got 'abc'",
    ]


def test_parse_command_unclosed_quote() -> None:
    with pytest.raises(ArgumentError) as exc:
        parse_command(Incident, INCIDENT_POS, 'title="never closed')
    assert lines(exc) == ['unclosed quote in: title="never closed']


# --- missing_required ---------------------------------------------------------------------


def test_missing_required() -> None:
    assert missing_required(Deploy, {}) == ["service", "version"]
    assert missing_required(Deploy, {"service": "api"}) == ["version"]
    assert missing_required(Deploy, {"service": "api", "version": "1"}) == []
    assert missing_required(Incident, parse_arguments(Incident, (), ["dry_run=yes"])) == ["title"]


def test_missing_required_accepts_alias_and_dashed_keys() -> None:
    class Aliased(BaseModel):
        change_id: str = Field(alias="change")
        owner_team: str

    assert missing_required(Aliased, {"change": "CHG1", "owner-team": "sre"}) == []
    assert missing_required(Aliased, {}) == ["change_id", "owner_team"]
