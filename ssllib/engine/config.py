"""What every run configuration shares: the optimisation fields, the method's options, the
split between the fields that decide what a run computes (its identity) and those that only
say where or how it runs, and the checked construction from plain values."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ssllib.engine.optim import Optimisation
from ssllib.engine.params import Param, check_all
from ssllib.engine.registry import Method
from ssllib.engine.registry import method as find_method


class PlainValues:
    """What every run configuration (a frozen dataclass with ``method`` and ``options``) can do
    with its values: give them as plain data, split off its identity, and be copied with changes."""

    NOT_IDENTITY: ClassVar[tuple[str, ...]] = ()  # settings that never change what a run computes
    # Fields added after runs were recorded, each with the value that computes what runs did before
    # it existed: at that value the field stays out of the identity, so those runs keep theirs.
    ADDED_LATER: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def identity(self) -> dict[str, Any]:
        """The fields that decide what the run computes (not where or how it runs, nor a field
        added later at the value that computes what runs did before it: :attr:`ADDED_LATER`)."""
        return {k: v for k, v in self.to_dict().items()
                if k not in self.NOT_IDENTITY and not (k in self.ADDED_LATER and v == self.ADDED_LATER[k])}

    def replace(self, **changes):
        """A copy with ``changes``, checked; a change of method starts from that method's default options."""
        values = {**self.to_dict(), **changes}
        if changes.get("method", self.method) != self.method and "options" not in changes:
            values["options"] = {}
        return type(self).from_dict(values)


@dataclass(frozen=True)
class Configuration(PlainValues, Optimisation):
    """A run configuration: plain values, each field with its help line and constraints."""

    options: dict = field(default_factory=dict, metadata={"help": "the method's own options (its declaration)"})

    @classmethod
    def checked(cls, values: dict[str, Any], params: dict[str, Param], family: str, default_method: str,
                where: str) -> tuple[Method, "Configuration"]:
        """(the method's declaration, the configuration) from plain ``values``: every name and
        value checked, the method's options completed with their defaults."""
        values = dict(values)
        options = values.pop("options", {}) or {}
        checked = check_all(params, values, where)
        spec = find_method(checked.get("method", default_method), family)
        return spec, cls(**checked, options=spec.complete_options(dict(options)))
