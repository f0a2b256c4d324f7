"""Turn command text into validated process inputs.

One parser serves ``shepherd run <process> [args]`` and Slack's ``/run <process> [args]``, so a
process accepts the same text and reports the same problems wherever it is started. It is pure:
shell syntax is borrowed for quoting only (``engine.command_text`` splits the words); nothing is
expanded or executed. ``ArgumentError`` and ``split_command_text`` are importable from here too.
"""

from __future__ import annotations

import re
from collections import abc
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from engine.command_text import Token, decode_entities, split_command_text
from engine.errors import ArgumentError, ProcessDefinitionError

M = TypeVar("M", bound=BaseModel)
__all__ = ["ArgumentError", "Token", "missing_required", "parse_arguments", "parse_command",
           "parse_duration", "split_command_text", "unwrap_optional", "validate_inputs"]

_REF = re.compile(
    r"<(?:@|#|!subteam\^)(?P<id>[A-Za-z0-9]+)(?:\|[^<>]*)?>"
    r"|<!(?P<special>here|channel|everyone)(?:\|[^<>]*)?>"
    r"|<(?:mailto:)?(?P<url>(?<=mailto:)[^<>|\s]+|https?://[^<>|\s]+)(?:\|[^<>]*)?>"
)


def _unescape(value: str) -> str:
    """Undo Slack's escaping in a value given as a ready-made word (the terminal's arguments, a
    test's list): <@U1|al> -> U1, <!here> -> @here, &lt; -> <. Words from ``split_command_text``
    are decoded there already and never pass here, so nothing is decoded twice.

    Processes get stable IDs (names change; IDs don't) and can resolve plain @names later. The
    result is plain text: ``&lt;!channel&gt;`` gives the characters ``<!channel>``, which every
    Slack surface shows escaped (``engine.mrkdwn``), so it never becomes a ping again.
    """
    plain = _REF.sub(lambda m: m["id"] or (m["special"] and "@" + m["special"]) or m["url"], value)
    return decode_entities(plain)


_COLLECTIONS = {list, tuple, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set}
_COMMA = re.compile(r",(?![^<]*>)")  # commas inside <...|label> do not separate items
_BOOLS = {**dict.fromkeys(("yes", "true", "on", "1"), True),
          **dict.fromkeys(("no", "false", "off", "0"), False)}
_NUM = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUM})\s*([a-z]+)\s*")
_UNITS = {unit: secs for secs, units in {
    1: "s sec secs second seconds", 60: "m min mins minute minutes", 3600: "h hr hrs hour hours",
    86400: "d day days", 604800: "w wk wks week weeks"}.items() for unit in units.split()}
_DURATION = "a duration like 30s, 5m, 2h or 1d"


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """The type a person means (Annotated and Optional stripped), and whether None is allowed."""
    optional = False
    while get_origin(tp) in (Annotated, Union, UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if get_origin(tp) is not Annotated and len(args) != 1:
            break
        optional = optional or (get_origin(tp) is not Annotated)
        tp = args[0]
    return tp, optional


def _show(value: Any) -> str:
    """Quote a bad value, shortened so a pasted log line keeps the error to one line."""
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= 60 else text[:57] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def parse_duration(text: str) -> timedelta:
    """Durations people type: 90 (seconds), 30s, 5m, 2h, 1d, 1w, 1h30m, '2 hours', PT5M."""
    s = text.strip().lower()
    if s.startswith("p"):  # ISO 8601 (PT5M, P1DT2H); no years or months, their length varies
        date, _, time = s[1:].partition("t")
        s = "" if re.search("[ym]", date) else date + time
    try:
        if re.fullmatch(_NUM, s):
            return timedelta(seconds=float(s))
        parts = _PART.findall(s) if re.fullmatch(f"(?:{_PART.pattern})+", s) else []
        if parts and all(u in _UNITS for _, u in parts):
            return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    except OverflowError:
        pass
    raise ArgumentError(f"expected {_DURATION}, got {_show(text)}")


def _coerce_scalar(tp: Any, value: str, decoded: bool = False) -> Any:
    value, tp = value if decoded else _unescape(value), unwrap_optional(tp)[0]
    if tp is bool:
        if value.strip().lower() not in _BOOLS:
            raise ArgumentError(f"expected yes or no (or true/false, on/off), got {_show(value)}")
        return _BOOLS[value.strip().lower()]
    if tp is timedelta:
        return parse_duration(value)
    if get_origin(tp) is Literal or (isinstance(tp, type) and issubclass(tp, Enum)):
        # Forgive case (sev-1 -> SEV-1); a miss is left for pydantic to list the choices.
        members = getattr(tp, "__members__", None)  # Enum; a Literal lists its choices in args
        hits = [c for c in (members.values() if members else get_args(tp)) if value.casefold() in
                {str(getattr(c, "value", c)).casefold(), str(getattr(c, "name", c)).casefold()}]
        return hits[0] if len(hits) == 1 else value
    return value


def _coerce(annotation: Any, value: Any, decoded: bool = False) -> Any:
    """Turn one token's text into what its field expects (lists split on commas, etc.).

    ``decoded``: the text came from ``split_command_text``, which undid Slack's escaping."""
    tp, optional = unwrap_optional(annotation)
    if not isinstance(value, str) or (value == "" and optional):
        return None if value == "" else value  # an empty value clears an optional input
    origin, args = get_origin(tp) or tp, get_args(tp)
    if origin not in _COLLECTIONS:
        return _coerce_scalar(tp, value, decoded)
    items = [item.strip() for item in (value.split(",") if decoded else _COMMA.split(value)) if item.strip()]
    return [_coerce_scalar(args[0] if args else Any, item, decoded) for item in items]


_KEYED = re.compile(r"(?P<dash>--)?(?P<key>[^\W\d][\w-]*)(?:=(?P<value>.*))?", re.DOTALL)


def _norm(key: str) -> str:
    """dry-run, Dry_Run and DRY-RUN all name the field dry_run."""
    return key.replace("-", "_").casefold()


def _aliases(info: FieldInfo) -> list[str]:
    """String aliases of a field, the one pydantic validates by first."""
    return [a for a in (info.validation_alias, info.alias) if isinstance(a, str)]


def _bind(
    model: type[BaseModel], positional: Sequence[str], tokens: str | Sequence[str]
) -> tuple[dict[str, Any], list[str], set[str]]:
    """Assign tokens to fields: (raw values, problem lines, fields whose value was unusable)."""
    fields = model.model_fields
    lookup = {_norm(key): name for name, info in fields.items() for key in (*_aliases(info), name)}
    slots = [lookup.get(_norm(p), p) for p in positional]
    if unknown := [s for s in slots if s not in fields]:
        raise ProcessDefinitionError(f"positional {unknown} not inputs of {model.__name__}")
    raw: dict[str, Any] = {}
    errors: list[str] = []
    bad: set[str] = set()
    used = 0
    for token in split_command_text(tokens) if isinstance(tokens, str) else tokens:
        m = _KEYED.fullmatch(token)
        decoded = isinstance(token, Token)
        typed_key = m is not None and m.end("key") + (m["value"] is not None) <= getattr(token, "quoted_at", len(token))
        value: Any
        if m and typed_key and (m["dash"] or m["value"] is not None):
            name, value = lookup.get(_norm(m["key"]), ""), m["value"]
            if not name or value is None:  # --name alone is a mistake, not a positional value
                errors.append(f"input '{name}' needs a value: {name}=..." if name else
                              f"unknown input '{m['key']}' (expected one of: {', '.join(fields)})")
                continue
        elif used < len(slots):
            name, value, used = slots[used], token, used + 1
        else:
            takes = f"{len(slots)} positional: {', '.join(slots)}" if slots else "only key=value"
            errors.append(f"unexpected argument '{token}' (this process takes {takes})")
            continue
        if name in raw or name in bad:
            errors.append(f"input '{name}' given twice")
            continue
        try:
            raw[name] = _coerce(fields[name].annotation, value, decoded)
        except ArgumentError as exc:
            errors.append(f"input '{name}': {exc}")
            bad.add(name)
    return raw, list(dict.fromkeys(errors)), bad


def parse_arguments(
    model: type[BaseModel], positional: Sequence[str], tokens: Sequence[str]
) -> dict[str, Any]:
    """Bind tokens to fields: bare ones fill ``positional`` in order, ``key=value`` by name.

    Keys may use - or _ (or a leading --) and match a field name or alias ignoring case. Values
    are coerced (durations, lists, yes/no, Slack references), not validated; keyed by field.
    """
    raw, errors, _ = _bind(model, positional, tokens)
    if errors:
        raise ArgumentError(errors)
    return raw


_EXPECTED = {kind: text for text, kinds in {
    "a whole number": "int_parsing int_from_float", "a number": "float_parsing decimal_parsing",
    "yes or no": "bool_parsing", _DURATION: "time_delta_parsing", "a date": "date_parsing",
}.items() for kind in kinds.split()}


def _describe(
    error: Mapping[str, Any], names: Mapping[str, str], fields: Sequence[str]
) -> tuple[str, str]:
    """One pydantic error as (field name, a short line naming the field and what it needs)."""
    loc, kind, got = error["loc"], error["type"], error.get("input")
    field = names.get(str(loc[0]), str(loc[0])) if loc else ""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    where = f"input '{field}{path}'" if loc else "inputs"
    if kind == "missing":
        return field, f"{where}: required"
    if kind == "extra_forbidden":
        return field, f"unknown input '{field}' (expected one of: {', '.join(fields)})"
    if kind in ("enum", "literal_error"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        choices = ", ".join(re.findall(r"'([^']*)'", expected)) or expected
        return field, f"{where}: expected one of {choices}, got {_show(got)}"
    if kind in _EXPECTED:
        return field, f"{where}: expected {_EXPECTED[kind]}, got {_show(got)}"
    msg = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    msg = re.sub(r"^Input should be ", "must be ", msg)
    own = kind in ("value_error", "assertion_error") or isinstance(got, dict | list)
    return field, f"{where}: {msg[:1].lower()}{msg[1:]}" + ("" if own else f", got {_show(got)}")


def _validate(model: type[M], raw: Mapping[str, Any]) -> tuple[M | None, list[tuple[str, str]]]:
    """Validate, mapping field names to the keys pydantic expects (aliases) and errors back."""
    fields, data = model.model_fields, {}
    for key, value in raw.items():
        alias = next(iter(_aliases(fields[key])), None) if key in fields else None
        use_alias = alias and alias not in raw and model.model_config.get("validate_by_alias", True)
        data[alias if use_alias else key] = value
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        names = {a: name for name, info in fields.items() for a in (*_aliases(info), name)}
        return None, [_describe(e, names, list(fields)) for e in exc.errors(include_url=False)]


def validate_inputs(model: type[M], raw: Mapping[str, Any]) -> M:
    """Build the model; each pydantic error becomes one short line named by field."""
    instance, problems = _validate(model, raw)
    if instance is None:
        raise ArgumentError(list(dict.fromkeys(line for _, line in problems)))
    return instance


def parse_command(
    model: type[M], positional: Sequence[str], text_or_tokens: str | Sequence[str]
) -> M:
    """Split, bind and validate, reporting binding and validation problems in one error."""
    raw, errors, bad = _bind(model, positional, text_or_tokens)
    instance, problems = _validate(model, raw)
    errors += [line for field, line in problems if field not in bad]
    if errors or instance is None:
        raise ArgumentError(list(dict.fromkeys(errors)))
    return instance


def missing_required(model: type[BaseModel], raw: Mapping[str, Any]) -> list[str]:
    """Required fields absent from raw, so Slack can open a form instead of failing."""
    present = {_norm(key) for key in raw}
    return [
        name for name, info in model.model_fields.items()
        if info.is_required() and not {_norm(k) for k in (name, *_aliases(info))} & present
    ]
