"""Parameter checking: every value a user passes is checked before any work starts, and a
bad one gets a single sentence that names it, says what is wrong and what would be right."""
from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass
from typing import Any, Optional


class ParameterError(ValueError):
    """A parameter has an unknown name, a wrong type or a value out of range."""


@dataclass(frozen=True)
class Param:
    """One parameter: its type (int, float, bool, str, or tuple of floats), a help line and
    the constraints on its value. ``nullable``: None is allowed and means 'not set'. A number
    must be finite (NaN passes every comparison, so a range alone would let it through) unless
    ``finite`` is False."""

    name: str
    type: type
    help: str
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    finite: bool = True
    below: float | None = None   # an open upper bound: the value must be less than it (a dropout below 1)

    def check(self, value: Any) -> Any:
        """The value converted to this parameter's type, or a :class:`ParameterError`."""
        if value is None:
            if self.nullable:
                return None
            raise ParameterError(f"parameter {self.name!r} needs a value ({self.help})")
        value = self._convert(value)
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"{self.name}={value!r} is not one of the valid choices "
                                 f"{', '.join(map(str, self.choices))}{hint}")
        for item in (value if isinstance(value, tuple) else (value,)):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if self.finite and not math.isfinite(item):
                    raise ParameterError(f"{self.name}={value!r} is not a finite number: give {self._range()}")
                if self.min is not None and item < self.min:
                    raise ParameterError(f"{self.name}={value!r} is out of range: it must be at least {self.min}")
                if self.max is not None and item > self.max:
                    raise ParameterError(f"{self.name}={value!r} is out of range: it must be at most {self.max}")
                if self.below is not None and item >= self.below:
                    raise ParameterError(f"{self.name}={value!r} is out of range: it must be below {self.below:g}")
        return value

    def _range(self) -> str:
        if self.below is not None:
            low = f"at least {self.min:g} and " if self.min is not None else ""
            return f"a number {low}below {self.below:g}"
        if self.min is not None and self.max is not None:
            return f"a number from {self.min:g} to {self.max:g}"
        if self.min is not None:
            return f"a number of at least {self.min:g}"
        if self.max is not None:
            return f"a number of at most {self.max:g}"
        return "a number"

    def _convert(self, value: Any) -> Any:
        kind = self.type
        wrong = ParameterError(f"{self.name}={value!r} has the wrong type: expected "
                               f"{_type_name(kind)}, got {type(value).__name__}")
        if kind is bool:
            if isinstance(value, bool):
                return value
            raise wrong
        if kind is int:
            if isinstance(value, bool):
                raise wrong
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise wrong
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong
            return float(value)
        if kind is str:
            if isinstance(value, str):
                return value
            raise wrong
        if kind is tuple:
            if isinstance(value, (list, tuple)) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                return tuple(float(v) for v in value)
            raise wrong
        raise TypeError(f"parameter {self.name}: unsupported type {kind}")

    @property
    def annotation(self) -> str:
        """The annotation a papermill parameters cell uses for this parameter."""
        base = _type_name(self.type) if self.type is not tuple else "list"
        return f"Optional[{base}]" if self.nullable else base


def _type_name(kind: type) -> str:
    return {tuple: "a list of numbers"}.get(kind, kind.__name__)


def check_names(schema: dict[str, Param], names, where: str) -> None:
    """Every name must be a parameter of ``schema``; a misspelt one gets a suggestion."""
    for name in names:
        if name not in schema:
            close = difflib.get_close_matches(name, list(schema), n=1)
            if close:  # the likely fix; the whole list would bury it
                raise ParameterError(f"{where} has no parameter {name!r}; did you mean {close[0]!r}?")
            raise ParameterError(f"{where} has no parameter {name!r} (valid: {', '.join(sorted(schema))})")


def check_all(schema: dict[str, Param], values: dict[str, Any], where: str) -> dict[str, Any]:
    """Check names, then every value; the values' problems are raised together, in one
    :class:`ParameterError` (one alone as it is)."""
    check_names(schema, values, where)
    checked, problems = {}, []
    for name, value in values.items():
        try:
            checked[name] = schema[name].check(value)
        except ParameterError as error:
            problems.append(error)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ParameterError(f"{len(problems)} problems with {where}'s settings: "
                             + "; ".join(f"({i}) {e}" for i, e in enumerate(problems, 1)))
    return checked


def param_field(default, help: str, **constraints):
    """A dataclass field that carries its help line and constraints (``choices``, ``min``,
    ``max``, ``nullable``); :func:`dataclass_params` turns such fields into parameters."""
    return dataclasses.field(default=default, metadata={"help": help, **constraints})


_FIELD_TYPES = {"str": str, "str | None": str, "int": int, "int | None": int, "float": float,
                "float | None": float, "bool": bool, "tuple": tuple, "tuple | None": tuple}


def dataclass_params(cls, skip=()) -> dict[str, Param]:
    """The :class:`Param` of every field of dataclass ``cls`` made with :func:`param_field`."""
    return {f.name: Param(f.name, _FIELD_TYPES[f.type], f.metadata["help"], choices=f.metadata.get("choices"),
                          min=f.metadata.get("min"), max=f.metadata.get("max"), below=f.metadata.get("below"),
                          nullable=f.metadata.get("nullable", False))
            for f in dataclasses.fields(cls) if f.name not in skip}


def annotation_of(hint: Any) -> str:
    """Render a typing annotation the way :attr:`Param.annotation` does (for notebook checks)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return f"Optional[{annotation_of(args[0])}]"
    if origin in (list, tuple) or hint in (list, tuple):
        return "list"
    return getattr(hint, "__name__", str(hint))


__all__ = ["Param", "ParameterError", "check_all", "annotation_of", "param_field", "dataclass_params", "Optional"]
