"""The checks every value from outside passes: text, whole numbers, and the types of command fields.

They raise ValidationError naming the field, so a caller (a form, the API, a script using the
library) learns which value to fix, and nothing that cannot be stored reaches a repository.
"""

from __future__ import annotations

import collections.abc as abc
import enum
import functools
import re
import types
import typing
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from uuid import UUID

import attrs

from coachos.domain.errors import ValidationError

# C0 and C1 control characters and DEL, and lone surrogates (which have no UTF-8 encoding).
# PostgreSQL refuses NUL in text outright; the others only ever arrive by accident or malice.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Long text keeps its line breaks and tabs.
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def check_text(value: object, *, field: str, max_len: int | None, multiline: bool = False) -> str:
    """`value` if it is text of at most `max_len` characters without control characters.

    `multiline` text (notes, messages) may contain line breaks, carriage returns and tabs;
    other text (names, keys, tags) none. The value is returned as it is (not trimmed). A
    `max_len` of None leaves the length to the caller (which words its own message).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{_label(field)} must be text, not {type(value).__name__}.", field=field)
    if found := (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        raise ValidationError(
            f"{_label(field)} contains a control character (U+{ord(found.group()):04X}) that cannot be stored; "
            "remove it.",
            field=field,
        )
    if max_len is not None and len(value) > max_len:
        raise ValidationError(f"{_label(field)} is limited to {max_len:,} characters.", field=field)
    return value


def check_whole(value: object, *, field: str, minimum: int, maximum: int) -> int:
    """`value` if it is a whole number (not a bool) from `minimum` to `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationError(f"{_label(field)} must be a whole number from {minimum} to {maximum}.", field=field)
    return value


# --- attrs validators, for the fields of commands and records -----------------------------------------


Validator = Callable[[object, "attrs.Attribute[Any]", Any], None]


def text(max_len: int | None, *, multiline: bool = False, optional: bool = False) -> Validator:
    """An attrs validator applying `check_text` under the attribute's name (None allowed if `optional`)."""

    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        check_text(value, field=attribute.name, max_len=max_len, multiline=multiline)

    return validate


def whole(minimum: int, maximum: int, *, optional: bool = False) -> Validator:
    """An attrs validator applying `check_whole` under the attribute's name (None allowed if `optional`)."""

    def validate(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        check_whole(value, field=attribute.name, minimum=minimum, maximum=maximum)

    return validate


# --- the declared types of command fields ----------------------------------------------------------


def check_fields(instance: object) -> None:
    """Refuse, naming the field, the first attribute of an attrs instance whose value is not of its declared type.

    Commands call this as they are made, so `CreateService(duration=60)` is a ValidationError
    saying that a duration is a length of time, not a TypeError deep inside a use case.
    Collections are checked element by element; a str is accepted for an enum (the record's
    own converter then checks the value).
    """
    cls: type = type(instance)
    for name, hint in _hints(cls).items():
        value = getattr(instance, name)
        if not _conforms(value, hint):
            raise ValidationError(f"{name} must be {_describe(hint)}, not {_kind(value, hint)}.", field=name)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in attrs.fields(cls) if f.name in hints}


def _conforms(value: object, hint: Any) -> bool:
    """Whether `value` fits the type hint `hint` (one branch per kind of hint commands use)."""
    supertype = getattr(hint, "__supertype__", None)  # NewType ids (OrgId is a UUID)
    if supertype is not None:
        return _conforms(value, supertype)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or isinstance(hint, TypeVar):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if hint is None or hint is type(None):
        return value is None
    if origin is tuple:
        if not _is_sequence(value):
            return False
        items = typing.cast(abc.Sequence[object], value)
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in items)
        return not args or (len(items) == len(args) and all(map(_conforms, items, args)))
    if origin in (list, abc.Sequence):
        if not _is_sequence(value):
            return False
        return not args or all(_conforms(item, args[0]) for item in typing.cast(abc.Sequence[object], value))
    if origin in (frozenset, set, abc.Set):
        # Any collection of distinct-able items will do; the record turns it into a frozenset.
        if not (isinstance(value, abc.Set) or _is_sequence(value)):
            return False
        return not args or all(_conforms(item, args[0]) for item in typing.cast(abc.Iterable[object], value))
    if origin is not None:
        return isinstance(value, origin) if isinstance(origin, type) else True
    if not isinstance(hint, type):
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if issubclass(hint, enum.StrEnum) and isinstance(value, str):
        return True
    return isinstance(value, hint)


def _is_sequence(value: object) -> bool:
    return isinstance(value, abc.Sequence) and not isinstance(value, str | bytes)


_WORDS: dict[Any, str] = {
    timedelta: "a length of time (timedelta)",
    datetime: "a date and time with a zone (datetime)",
    date: "a date (date)",
    time: "a time of day (time)",
    bool: "true or false (bool)",
    int: "a whole number (int)",
    float: "a number",
    str: "text (str)",
    UUID: "an id (UUID)",
}


def _describe(hint: Any) -> str:
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:
        return _describe(supertype)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        named = [_describe(arg) for arg in args if arg is not type(None)]
        return " or ".join(named) + (" or None" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return "a tuple of (" + ", ".join(_describe(arg) for arg in args) + ")"
    if origin in (tuple, list, abc.Sequence, frozenset, set, abc.Set) and args:
        return f"a collection in which each item is {_describe(args[0])}"
    if hint in _WORDS:
        return _WORDS[hint]
    return f"a {getattr(hint, '__name__', str(hint))}"


def _kind(value: object, hint: Any) -> str:
    """What `value` is, pointing at the first wrong item of a collection of the right kind."""
    if value is None:
        return "None"
    args = typing.get_args(hint)
    if args and (isinstance(value, abc.Set) or _is_sequence(value)) and not (len(args) == 2 and args[1] is Ellipsis):
        item_hint = args[0] if typing.get_origin(hint) is not tuple else None
        if item_hint is not None:
            for index, item in enumerate(typing.cast(abc.Iterable[object], value)):
                if not _conforms(item, item_hint):
                    return f"{type(value).__name__} whose item {index} is {type(item).__name__} {item!r:.40}"
    return type(value).__name__
