"""Turn command text into validated process inputs.

One parser serves both front ends -- ``shepherd run <process> [args]`` in a terminal and
``/run <process> [args]`` in Slack -- so a process accepts the same text and reports the same
problems wherever it is started. Everything here is pure: text in, values or ArgumentError out.
Shell syntax is borrowed for quoting only; nothing is ever expanded or executed.
"""

from __future__ import annotations

import re
import shlex
from collections import abc
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from engine.errors import ProcessDefinitionError, ShepherdError

M = TypeVar("M", bound=BaseModel)


class ArgumentError(ShepherdError, ValueError):
    """Bad command text or inputs, one human-readable line per problem in ``lines``.

    Problems are collected before raising so a person fixes a command once, not once per
    mistake. It is a ShepherdError so front ends print it like any other user-facing error.
    """

    exit_code = 2

    def __init__(self, lines: Sequence[str] | str) -> None:
        self.lines: list[str] = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))

    def __reduce__(self) -> tuple[type[ArgumentError], tuple[list[str]]]:
        return type(self), (self.lines,)  # keep the separate lines across pickling


class _CoercionError(Exception):
    """A value that cannot be what its field needs; the message says what was expected."""


# Phones and Slack make quotes "smart"; no-break spaces arrive by copy/paste.
_SMART = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " ", "\u202f": " "}
)
# Slack references (labels may hold spaces or quotes) and word-internal apostrophes (don\u2019t)
# are set aside so the quoting rules never see them.
_PROTECT = re.compile(
    "<(?:[@#!]|https?:|mailto:)[^\\s<>|\"'\u201c\u201d\u2018\u2019]*(?:\\|[^<>]*)?>"
    "|(?<=\\w)\u2019(?=\\w)"
)
_STASHED = re.compile("\ue000(\\d+)\ue001")


def split_command_text(text: str) -> list[str]:
    """Split like a POSIX shell (quotes, backslashes; no comments, so #channel survives).

    Smart quotes count as plain ones and ``key="a b"`` becomes the token ``key=a b``, so text
    typed on a phone splits the same as text typed in a terminal.
    """
    if not text.strip():
        return []
    stash: list[str] = []

    def keep(match: re.Match[str]) -> str:
        stash.append(match[0])
        return f"\ue000{len(stash) - 1}\ue001"

    work = text if "\ue000" in text else _PROTECT.sub(keep, text)
    try:
        tokens = shlex.split(work.translate(_SMART), comments=False, posix=True)
    except ValueError as exc:
        problem = "unclosed quote" if "quotation" in str(exc) else "dangling backslash"
        raise ArgumentError(f"{problem} in: {text}") from None
    return [_STASHED.sub(lambda m: stash[int(m[1])], token) for token in tokens]


_REF = re.compile(
    r"<(?P<kind>@|#|!subteam\^)(?P<id>[A-Za-z0-9]+)(?:\|(?P<label>[^<>]*))?>"
    r"|<(?P<url>https?://[^<>|\s]+)(?:\|[^<>]*)?>|<mailto:(?P<mail>[^<>|\s]+)(?:\|[^<>]*)?>"
    r"|&(?P<ent>amp|lt|gt);"
)
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def _readable(m: re.Match[str]) -> str:
    """A reference inside longer text becomes what the person saw, e.g. @alice or #general."""
    if m["ent"] or m["url"] or m["mail"]:
        return _ENTITIES.get(m["ent"] or "", m["url"] or m["mail"])
    prefix, label = ("#" if m["kind"] == "#" else "@"), m["label"] or m["id"]
    return label if label.startswith(prefix) else prefix + label


def _unescape(value: str) -> str:
    """Undo Slack's escaping: a value that is one reference becomes its ID (<@U1|al> -> U1)."""
    whole = _REF.fullmatch(value.strip())
    if whole and not whole["ent"]:
        return whole["id"] or whole["url"] or whole["mail"]
    return _REF.sub(_readable, value)


_COLLECTIONS = {list, tuple, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set}
_COMMA = re.compile(r",(?![^<]*>)")  # commas inside <...|label> do not separate items
_BOOLS = {**dict.fromkeys(("yes", "true", "on", "1"), True),
          **dict.fromkeys(("no", "false", "off", "0"), False)}
_NUM = r"\d+(?:\.\d+)?"
_ISO = re.compile(rf"p(?:({_NUM})w)?(?:({_NUM})d)?(?:t(?:({_NUM})h)?(?:({_NUM})m)?(?:({_NUM})s)?)?")
_PART = re.compile(rf"({_NUM})\s*([a-z]+)\s*")
_UNITS = {unit: secs for secs, units in {
    1: "s sec secs second seconds", 60: "m min mins minute minutes", 3600: "h hr hrs hour hours",
    86400: "d day days", 604800: "w wk wks week weeks"}.items() for unit in units.split()}
_DURATION = "a duration like 30s, 5m, 2h or 1d"


def _unwrap(tp: Any) -> tuple[Any, bool]:
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
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= 60 else text[:57] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def parse_duration(text: str) -> timedelta:
    """Durations people type: 90 (seconds), 30s, 5m, 2h, 1d, 1w, 1h30m, '2 hours', PT5M."""
    s = text.strip().lower()
    try:
        if re.fullmatch(_NUM, s):
            return timedelta(seconds=float(s))
        if (iso := _ISO.fullmatch(s)) and any(iso.groups()) and not s.endswith("t"):
            w, d, h, m, sec = (float(g or 0) for g in iso.groups())
            return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=sec)
        if re.fullmatch(f"(?:{_PART.pattern})+", s) and all(
            u in _UNITS for _, u in _PART.findall(s)
        ):
            return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _PART.findall(s)))
    except OverflowError:
        pass
    raise _CoercionError(f"expected {_DURATION}, got {_show(text)}")


def _coerce_scalar(tp: Any, value: str) -> Any:
    value, tp = _unescape(value), _unwrap(tp)[0]
    if tp is bool:
        if value.strip().lower() not in _BOOLS:
            raise _CoercionError(f"expected yes or no (true/false, on/off, 1/0), got {_show(value)}")
        return _BOOLS[value.strip().lower()]
    if tp is timedelta:
        return parse_duration(value)
    if get_origin(tp) is Literal or (isinstance(tp, type) and issubclass(tp, Enum)):
        # Forgive case (sev-1 -> SEV-1); a miss is left for pydantic to list the choices.
        hits = [c for c in (tp if isinstance(tp, type) else get_args(tp)) if value.casefold() in
                {str(getattr(c, "value", c)).casefold(), str(getattr(c, "name", c)).casefold()}]
        return hits[0] if len(hits) == 1 else value
    return value


def _coerce(annotation: Any, value: Any) -> Any:
    """Turn one token's text into what its field expects (lists split on commas, etc.)."""
    tp, optional = _unwrap(annotation)
    if not isinstance(value, str) or (value == "" and optional):
        return None if value == "" else value  # an empty value clears an optional input
    origin, args = get_origin(tp) or tp, get_args(tp)
    if origin not in _COLLECTIONS:
        return _coerce_scalar(tp, value)
    fixed = origin is tuple and args and args[-1] is not Ellipsis
    items = [item.strip() for item in _COMMA.split(value) if item.strip()]
    return [_coerce_scalar(args[min(i, len(args) - 1) if fixed else 0] if args else Any, item)
            for i, item in enumerate(items)]


_KEYED = re.compile(r"(?P<dash>--)?(?P<key>[^\W\d][\w-]*)(?:=(?P<value>.*))?", re.DOTALL)


def _norm(key: str) -> str:
    return key.replace("-", "_").casefold()


def _aliases(info: FieldInfo) -> list[str]:
    """Every string a field is known by besides its name (alias, validation alias, choices)."""
    found = [info.alias, info.validation_alias]
    if isinstance(info.validation_alias, AliasChoices):
        found += info.validation_alias.choices
    return [a for a in found if isinstance(a, str)]


def _bind(
    model: type[BaseModel], positional: Sequence[str], tokens: str | Sequence[str]
) -> tuple[dict[str, Any], list[str], set[str]]:
    """Assign tokens to fields: (raw values, problem lines, fields whose value was unusable)."""
    fields = model.model_fields
    lookup: dict[str, str] = {}
    for name, info in fields.items():
        for key in (name, *_aliases(info)):
            lookup.setdefault(_norm(key), name)
    slots = [lookup.get(_norm(p), p) for p in ([positional] if isinstance(positional, str)
                                                else positional)]
    if unknown := [s for s in slots if s not in fields]:
        raise ProcessDefinitionError(f"positional {unknown} not inputs of {model.__name__}")
    raw: dict[str, Any] = {}
    errors: list[str] = []
    bad: set[str] = set()
    used = 0

    def is_flag(name: str | None) -> bool:
        return name is not None and _unwrap(fields[name].annotation)[0] is bool

    for token in split_command_text(tokens) if isinstance(tokens, str) else tokens:
        m = _KEYED.fullmatch(token)
        value: Any
        if m and (m["dash"] or m["value"] is not None):
            key, value = _norm(m["key"]), m["value"]
            name = lookup.get(key)
            if name is None and value is None and is_flag(lookup.get(key.removeprefix("no_"))):
                name, value = lookup[key.removeprefix("no_")], "no"  # --no-dry-run
            elif name is None:
                errors.append(f"unknown input '{m['key']}' (expected one of: {', '.join(fields)})")
                continue
            elif value is None:  # --name without a value is only meaningful for a yes/no input
                if not is_flag(name):
                    errors.append(f"input '{name}' needs a value: {name}=...")
                    continue
                value = "yes"
        elif used < len(slots):
            name, value, used = slots[used], token, used + 1
        else:
            n = len(slots)
            takes = f"takes {n} positional: {', '.join(slots)}" if n else "takes no positional"
            errors.append(f"unexpected argument '{token}' (this process {takes})")
            continue
        if name in raw or name in bad:
            errors.append(f"input '{name}' given twice")
            continue
        try:
            raw[name] = _coerce(fields[name].annotation, value)
        except _CoercionError as exc:
            errors.append(f"input '{name}': {exc}")
            bad.add(name)
    return raw, list(dict.fromkeys(errors)), bad


def parse_arguments(
    model: type[BaseModel], positional: Sequence[str], tokens: Sequence[str]
) -> dict[str, Any]:
    """Bind tokens to fields: bare ones fill ``positional`` in order, ``key=value`` by name.

    Keys may use - or _ and match a field name or alias ignoring case; ``--flag``,
    ``--no-flag`` and ``--key=value`` work too. Values are coerced (durations, lists, yes/no,
    Slack references) but not validated; the dict is keyed by field name.
    """
    raw, errors, _ = _bind(model, positional, tokens)
    if errors:
        raise ArgumentError(errors)
    return raw


_EXPECTED = {kind: text for text, kinds in {
    "a whole number": "int_parsing int_type int_from_float",
    "a number": "float_parsing float_type decimal_parsing",
    "yes or no": "bool_parsing bool_type", "text": "string_type", _DURATION: "time_delta_parsing",
    "a date and time like 2024-05-01T14:30": "datetime_parsing datetime_from_date_parsing",
    "a date like 2024-05-01": "date_parsing date_from_datetime_parsing",
    "a comma-separated list": "list_type tuple_type set_type",
    "a URL": "url_parsing", "a UUID": "uuid_parsing"}.items() for kind in kinds.split()}


def _describe(
    error: Mapping[str, Any], names: Mapping[str, str], fields: Sequence[str]
) -> tuple[str, str]:
    """One pydantic error as (field name, a short line naming the field and what it needs)."""
    loc, kind, got = error["loc"], error["type"], error.get("input")
    field = names.get(str(loc[0]), str(loc[0])) if loc else ""
    path = field + "".join(f".{p}" for p in loc[1:] if not isinstance(p, int))
    items = [p + 1 for p in loc[1:] if isinstance(p, int)]
    where = (f"input '{path}'" + (f" (item {items[-1]})" if items else "")) if loc else "inputs"
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
