"""The web's first check of every request: its text must be text, and its JSON shallow.

Invalid UTF-8, NUL characters and lone surrogates cannot be stored in PostgreSQL (or encoded at
all), and deeply nested JSON would exhaust the parser's recursion. Each is refused here with a
400 naming the part of the request, before any view, form parser or JSON parser sees it. The
domain's own checks (control characters in names, notes, …) still apply to every field after
this; this guard is the second line that also covers what no command checks (search terms,
slugs and tokens in paths, JSON keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from quart import request

from coachos.domain.errors import ValidationError

#: Deepest nesting of arrays and objects a JSON body may have (the API's shapes need 3).
MAX_JSON_DEPTH = 32

_FORM = frozenset({"application/x-www-form-urlencoded", "application/x-url-encoded"})
# What no text field can hold: NUL (PostgreSQL refuses it) and lone surrogates (no UTF-8 form).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON string, escapes included (the "unrolled loop" form: linear time, no backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


async def refuse_unusable_input() -> None:
    """Raise ValidationError (400) if the path, query string or body of this request is unusable text."""
    _check_path()
    _check_pairs(_query_pairs(), where="query string")
    mimetype = request.mimetype
    if mimetype in _FORM:
        _check_pairs(_form_pairs(await _body()), where="form")
    elif mimetype == "multipart/form-data":
        # Its parser decodes with replacement characters, so only NUL can come through.
        form = await request.form
        _check_pairs(((name, value) for name in form for value in form.getlist(name)), where="form")
    elif request.is_json or request.path.startswith("/api/"):
        await _check_json()


def _refuse(message: str, field: str) -> ValidationError:
    return ValidationError(message, field=field)


def _check_path() -> None:
    # The server decodes the path with replacement characters; the raw bytes tell what was sent.
    raw = request.scope.get("raw_path")
    try:
        if raw is not None:
            unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("The address is not valid UTF-8.", "path") from None
    if _UNSTORABLE.search(request.path):
        raise _refuse("The address contains a NUL character.", "path")


def _query_pairs() -> list[tuple[str, str]]:
    try:
        return parse_qsl(request.query_string.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise _refuse("The query string is not valid UTF-8.", "query") from None


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise _refuse("The form is not valid UTF-8.", "body") from None


def _check_pairs(pairs: Iterator[tuple[str, str]] | list[tuple[str, str]], *, where: str) -> None:
    for name, value in pairs:
        if _UNSTORABLE.search(name):
            raise _refuse(f"A name in the {where} contains a NUL character.", where.split()[0])
        if _UNSTORABLE.search(value):
            raise _refuse(f"The {where} field '{name}' contains a NUL character.", name)


async def _check_json() -> None:
    body = await _body()
    if not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("The request body is not valid UTF-8.", "body") from None
    if _too_deep(body):
        raise _refuse(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels, or is cut short.", "body")
    try:
        data = json.loads(text)
    except ValueError:
        return  # malformed JSON: the view's own parsing answers 400 for it
    _check_json_value(data, "")


def _too_deep(body: bytes) -> bool:
    """Whether arrays and objects in `body` nest deeper than MAX_JSON_DEPTH (or do not balance).

    Strings are cut out (brackets inside them do not count), then every pass deletes the
    innermost empty pairs, which lowers every nesting by one; what is left after MAX_JSON_DEPTH
    passes was deeper. Each step is a C-speed scan, so a 1 MiB body costs milliseconds.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    brackets = brackets.replace(b"{", b"[").replace(b"}", b"]")
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _check_json_value(value: Any, where: str) -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise _refuse(f"{where or 'The body'} contains a NUL character or a lone surrogate.", where or "body")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                raise _refuse("A key in the JSON body contains a NUL character or a lone surrogate.", "body")
            _check_json_value(item, f"{where}.{key}" if where else key)


async def _body() -> bytes:
    # Awaited whole and kept, so the form parser and get_json read the same bytes afterwards.
    return await request.get_data(cache=True, as_text=False, parse_form_data=False)
