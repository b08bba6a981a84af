"""Typed, validated parameter dataclasses built from plain mappings (TOML cards).

A parameter class is a frozen dataclass whose fields are declared with :func:`param`: each
field carries its type, unit, documentation and a range check. :func:`build` turns a mapping
into an instance and raises :class:`~neuromem.exceptions.ConfigError` naming the file, the key
and what was expected for any unknown key, missing key, wrong type, NaN or out-of-range value.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from neuromem.exceptions import ConfigError

__all__ = ["param", "build", "describe", "closest", "Check", "positive", "nonnegative",
           "fraction", "at_least", "to_plain"]

Check = Callable[[Any], str | None]

_MISSING = dataclasses.MISSING


def positive(value) -> str | None:
    return None if value > 0 else "a value > 0"


def nonnegative(value) -> str | None:
    return None if value >= 0 else "a value >= 0"


def fraction(value) -> str | None:
    return None if 0 <= value <= 1 else "a fraction in [0, 1]"


def at_least(bound) -> Check:
    def check(value):
        return None if value >= bound else f"a value >= {bound}"
    return check


def param(default=_MISSING, *, kind: type = float, unit: str = "", doc: str = "",
          check: Check | None = None, allow_inf: bool = False, optional: bool = False,
          choices: tuple | None = None):
    """Declare a card parameter.

    Parameters
    ----------
    default : optional
        Default value; without one the key is required.
    kind : type
        ``float``, ``int``, ``bool`` or ``str``. A float field accepts TOML integers.
    unit : str
        SI unit shown by ``neuromem device show`` (also part of the field's name).
    doc : str
        One-line description.
    check : callable, optional
        Returns ``None`` when the value is acceptable, otherwise the expectation as text.
    allow_inf : bool
        Accept +inf (e.g. "no limit"); NaN is never accepted.
    optional : bool
        The value may be absent (``None``).
    choices : tuple, optional
        The accepted values of a string field.
    """
    meta = {"kind": kind, "unit": unit, "doc": doc, "check": check, "allow_inf": allow_inf,
            "optional": optional, "choices": choices}
    if optional and default is _MISSING:
        default = None
    return dataclasses.field(default=default, metadata=meta)


def closest(name: str, options) -> str:
    """Return ' (did you mean X?)' for the option closest to ``name``, or ''."""
    options = [str(o) for o in options]
    name = str(name)
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if not match and name:
        match = [o for o in options if o.startswith(name) or name in o][:1]
    return f" (did you mean '{match[0]}'?)" if match else ""


def _type_name(kind: type) -> str:
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}[kind]


def _coerce(value, meta, *, file, key):
    kind = meta["kind"]
    if value is None and meta["optional"]:
        return None
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"expected {_type_name(kind)}, got {value!r}", file=file, key=key)
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not (meta["allow_inf"] and value > 0)):
            raise ConfigError(f"expected a finite number, got {value!r}", file=file, key=key)
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected {_type_name(kind)}, got {value!r}", file=file, key=key)
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"expected {_type_name(kind)}, got {value!r}", file=file, key=key)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"expected {_type_name(kind)}, got {value!r}", file=file, key=key)
        if meta["choices"] is not None and value not in meta["choices"]:
            options = ", ".join(repr(c) for c in meta["choices"])
            raise ConfigError(f"expected one of {options}, got {value!r}"
                              + closest(value, meta["choices"]), file=file, key=key)
    check = meta["check"]
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(f"expected {problem}, got {value!r}", file=file, key=key)
    return value


def build(cls, data: Mapping, *, file=None, section: str = ""):
    """Build the frozen parameter dataclass ``cls`` from ``data``, validating every key.

    Cross-field checks live in the class's ``check()`` method, which raises
    ``ConfigError(message, key=...)``; the file and section are added here.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table of parameters, got {type(data).__name__}",
                          file=file, key=section or None)
    prefix = f"{section}." if section else ""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown key{closest(key, fields)}; known keys: "
                              f"{', '.join(sorted(fields))}",
                              file=file, key=prefix + str(key))
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _coerce(data[name], f.metadata, file=file, key=prefix + name)
        elif f.default is _MISSING:
            raise ConfigError(f"missing required key ({f.metadata.get('doc', '')})",
                              file=file, key=prefix + name)
    obj = cls(**values)
    checker = getattr(obj, "check", None)
    if checker is not None:
        try:
            checker()
        except ConfigError as err:
            key = prefix + err.key if err.key else (section or None)
            raise ConfigError(err.reason, file=file, key=key) from None
    return obj


def describe(obj) -> list[dict]:
    """One dict per field: name, value, unit, doc (for display)."""
    rows = []
    for f in dataclasses.fields(obj):
        rows.append({"name": f.name, "value": getattr(obj, f.name),
                     "unit": f.metadata.get("unit", ""), "doc": f.metadata.get("doc", "")})
    return rows


def to_plain(obj) -> dict:
    """The dataclass as a plain dict (JSON/TOML friendly, None values dropped)."""
    return {k: v for k, v in dataclasses.asdict(obj).items() if v is not None}
