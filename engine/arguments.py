"""Turn command text into validated process inputs.

One parser serves ``shepherd run <process> [args]`` and Slack's ``/run <process> [args]``, so a
process accepts the same text and reports the same problems wherever it is started. It is pure:
shell syntax is borrowed for quoting only; nothing is expanded or executed.
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

from engine.errors import ProcessDefinitionError, ShepherdError

M = TypeVar("M", bound=BaseModel)


class ArgumentError(ShepherdError, ValueError):
    """Bad command text or inputs: ``lines`` holds one human-readable line per problem.

    All problems are collected first, so a person fixes a command in one go; being a
    ShepherdError lets front ends print it like any other user-facing error.
    """

    exit_code = 2

    def __init__(self, lines: Sequence[str] | str) -> None:
        self.lines: list[str] = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))

    def __reduce__(self) -> tuple[type[ArgumentError], tuple[list[str]]]:
        return type(self), (self.lines,)  # keep the separate lines across pickling


MAX_COMMAND_TEXT = 4000
"""Longest command text accepted, in characters: far more than any real command, and a bound
on the work one request can cause (Slack itself sends up to 40,000 in a message)."""

_SEPARATORS = frozenset(" \t\r\n\f\v")
"""What separates words: ASCII white space only. A no-break space is a character of its word."""
_CLOSERS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u201d": "\u201d", "\u2018": "\u2019"}
"""Opening quote -> closing quote. Phones type \u201c...\u201d and \u2018...\u2019; a \u2019 between
two letters is an apostrophe (it\u2019s), never a closing quote."""
_REFERENCE = re.compile(
    r"<(?:(?P<sigil>[@#])(?P<id>[A-Za-z0-9]+)|!subteam\^(?P<group>[A-Za-z0-9]+)|!(?P<special>here|channel|everyone)"
    r"|(?P<url>(?:https?://|mailto:)[^\s<>|]+))(?:\|(?P<label>[^<>]*))?>"
)
"""A reference Slack puts in command text (``should_escape``): a person, channel, user group,
special mention or link. Slack escapes a typed ``<`` as ``&lt;``, so only Slack writes these."""
_ENTITY = re.compile("&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


class Token(str):
    """A word of command text, decoded; ``quoted_at`` is where its quoted (or backslash-escaped)
    part starts, so ``key=`` is recognised only in text typed outside quotes: a quoted
    ``'--note=x'`` is the value ``--note=x``, not an input named note."""

    quoted_at: int

    def __new__(cls, text: str, quoted_at: int | None = None) -> Token:
        token = super().__new__(cls, text)
        token.quoted_at = len(text) if quoted_at is None else quoted_at
        return token


def _entities(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m[1]], text)


def _reference(match: re.Match[str], quoted: bool) -> str:
    """What a Slack reference means. Unquoted: the id a person or channel field wants (U1, C2,
    S3; a link's URL). Quoted: the text as the person typed it (@alice, #ops, @here, the link)."""
    label = match["label"]
    if match["special"]:
        return "@" + match["special"]
    if not quoted:
        return match["id"] or match["group"] or _entities(match["url"].removeprefix("mailto:"))
    if label:
        sigil = match["sigil"] or ("@" if match["group"] else "")
        return _entities(label if label.startswith(sigil) else sigil + label)
    if match["url"]:
        return _entities(match["url"].removeprefix("mailto:"))
    return (match["sigil"] or "@") + (match["id"] or match["group"])


def split_command_text(text: str, limit: int = MAX_COMMAND_TEXT) -> list[str]:
    """Split command text into words (``Token``), decoded: quotes removed, Slack's escaping undone.

    Shell-like, and linear in the text's length: spaces separate words; ``"..."``, ``'...'`` and
    the smart quotes phones type quote, and a quoted value means *literally this* (other quotes,
    ``=``, ``--``, no-break spaces inside it are kept as they are); a backslash outside quotes
    keeps the next character; ``#`` is just a character. Slack's references (``<@U1|al>``) become
    ids outside quotes and the typed text inside them; ``&amp;``, ``&lt;``, ``&gt;`` become
    ``&``, ``<``, ``>``. The result is plain text, never mrkdwn: whoever shows it in Slack escapes
    it (``engine.mrkdwn``).
    """
    if len(text) > limit:
        raise ArgumentError(f"the command text is too long: {len(text):,} characters (at most {limit:,})")
    tokens: list[str] = []
    word: list[str] = []
    quoted_at: int | None = None
    started = False
    closer = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "<" and (ref := _REFERENCE.match(text, i)):
            word.append(_reference(ref, quoted=bool(closer)))
            started, i = True, ref.end()
            continue
        if c == "&" and (entity := _ENTITY.match(text, i)):
            word.append(_ENTITIES[entity[1]])
            started, i = True, entity.end()
            continue
        if closer:
            if c == closer and not (c == "\u2019" and 0 < i < n - 1 and text[i - 1].isalnum()
                                    and text[i + 1].isalnum()):
                closer = ""
            elif c == "\\" and closer == '"' and i + 1 < n and text[i + 1] in '"\\':
                word.append(text[i + 1])
                i += 1
            else:
                word.append(c)
        elif c in _SEPARATORS:
            if started:
                tokens.append(Token("".join(word), quoted_at))
            word, quoted_at, started = [], None, False
        elif c in _CLOSERS:
            quoted_at = sum(map(len, word)) if quoted_at is None else quoted_at
            closer, started = _CLOSERS[c], True
        elif c == "\\":
            if i + 1 == n:
                raise ArgumentError(f"dangling backslash in: {text}")
            quoted_at = sum(map(len, word)) if quoted_at is None else quoted_at
            started = True
            if escaped := _ENTITY.match(text, i + 1) or _REFERENCE.match(text, i + 1):  # \& arrives as \&amp;
                word.append(_ENTITIES[escaped[1]] if escaped.re is _ENTITY else _reference(escaped, quoted=True))
                i = escaped.end()
                continue
            word.append(text[i + 1])
            i += 1
        else:
            word.append(c)
            started = True
        i += 1
    if closer:
        raise ArgumentError(f"unclosed quote in: {text}")
    if started:
        tokens.append(Token("".join(word), quoted_at))
    return tokens


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
    return _entities(plain)


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
