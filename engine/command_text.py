"""Split command text into words, as a person meant them: quoting means "literally this".

The same text arrives from the terminal and from Slack's ``/run`` (which escapes it first:
``should_escape``); this module turns it into words once, in one linear pass, so a 1 MB paste
costs a moment, not the event loop. ``engine.arguments`` binds the words to a process's inputs.
"""

from __future__ import annotations

import re

from engine.errors import ArgumentError

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


def decode_entities(text: str) -> str:
    """``&amp;``, ``&lt;``, ``&gt;`` (the only entities Slack writes) as ``&``, ``<``, ``>``."""
    return _ENTITY.sub(lambda m: _ENTITIES[m[1]], text)


def _reference(match: re.Match[str], quoted: bool) -> str:
    """What a Slack reference means. Unquoted: the id a person or channel field wants (U1, C2,
    S3; a link's URL). Quoted: the text as the person typed it (@alice, #ops, @here, the link)."""
    label = match["label"]
    if match["special"]:
        return "@" + match["special"]
    if not quoted:
        return match["id"] or match["group"] or decode_entities(match["url"].removeprefix("mailto:"))
    if label:
        sigil = match["sigil"] or ("@" if match["group"] else "")
        return decode_entities(label if label.startswith(sigil) else sigil + label)
    if match["url"]:
        return decode_entities(match["url"].removeprefix("mailto:"))
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
