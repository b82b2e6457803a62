"""The shared vocabulary of settings and the check every settings object runs when it is made.

A setting that is a plain string silently falls through to a default branch when it is mistyped, which
gives a different number with no error. Settings objects therefore declare their choices as ``Literal``
types and call :func:`check_literals` in ``__post_init__``: an unknown value raises at once with the list
of valid values.

>>> from dbdbench.settings import POLARITIES, check_choice
>>> POLARITIES
('blur', 'sharp')
>>> check_choice("Protocol 'x'", "positive", "blurry", POLARITIES)
Traceback (most recent call last):
...
ValueError: Protocol 'x': positive='blurry'; valid: 'blur', 'sharp'
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

#: What white (or a high value) means in a map or mask: the blurred or the in-focus class.
Polarity = Literal["blur", "sharp"]
#: A declared polarity that may also be unknown (datasets and submissions whose GT was not verified).
DeclaredPolarity = Literal["blur", "sharp", "unknown"]

BLUR: Polarity = "blur"
SHARP: Polarity = "sharp"
UNKNOWN: DeclaredPolarity = "unknown"
POLARITIES: tuple[Polarity, ...] = get_args(Polarity)
DECLARED_POLARITIES: tuple[DeclaredPolarity, ...] = get_args(DeclaredPolarity)

#: file types read as photos, maps and masks
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def check_choice(owner: str, name: str, value: object, valid: Iterable[object]) -> None:
    """Raise ``ValueError`` naming ``owner``, the setting and the valid values unless ``value`` is one of them."""
    valid = tuple(valid)
    if value not in valid:
        raise ValueError(f"{owner}: {name}={value!r}; valid: {', '.join(repr(v) for v in valid)}")


def _literal_choices(tp: Any) -> tuple[object, ...] | None:
    """The values a ``Literal`` (or ``Literal | None``) annotation allows, None for other annotations."""
    if get_origin(tp) is Literal:
        return get_args(tp)
    if get_origin(tp) in (typing.Union, types.UnionType):
        parts = [_literal_choices(a) if a is not type(None) else (None,) for a in get_args(tp)]
        if all(p is not None for p in parts) and any(p != (None,) for p in parts):
            return tuple(v for p in parts for v in p)  # type: ignore[union-attr]
    return None


_LITERAL_FIELDS: dict[type, dict[str, tuple[object, ...]]] = {}


def literal_fields(cls: type) -> dict[str, tuple[object, ...]]:
    """Field name -> allowed values for every ``Literal``-typed field of the dataclass ``cls`` (cached)."""
    if cls not in _LITERAL_FIELDS:
        _LITERAL_FIELDS[cls] = _find_literal_fields(cls)
    return _LITERAL_FIELDS[cls]


def _find_literal_fields(cls: Any) -> dict[str, tuple[object, ...]]:
    module = sys.modules[cls.__module__].__dict__
    hints = typing.get_type_hints(cls, globalns=module)
    out = {}
    for f in dataclasses.fields(cls):
        choices = _literal_choices(hints[f.name])
        if choices is not None:
            out[f.name] = choices
    return out


def check_literals(obj: Any, owner: str) -> None:
    """Check every ``Literal``-typed field of the dataclass instance ``obj`` (see :func:`check_choice`)."""
    for name, choices in literal_fields(type(obj)).items():
        check_choice(owner, name, getattr(obj, name), choices)
