"""What a chapter can be given, and how its parameters are resolved (one place for every chapter).

Each chapter's module (:mod:`ssllib.chapters.foundations`, …) declares its parameters and three
profiles, written as a recipe and its changes:

``paper``: the published recipe for a GPU (for some datasets a one-GPU preset, said where used);
``cpu``: the book's embedded default, ``paper`` scaled down to minutes on a 2-core CPU;
``smoke``: ``cpu`` shrunk to seconds (nbval and CI).

Precedence: a value given explicitly > the profile's value (with its dataset overlay) >
the profile named by ``$SSLLIB_PROFILE`` > ``cpu``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ssllib.chapters.budget import BUDGET_PARAM, COUNTED_IN, schedule_conflicts, shrink
from ssllib.data import require_dataset
from ssllib.engine.allocator import refuse_beyond_memory, step_memory
from ssllib.engine.devices import pick_device
from ssllib.engine.ledger import require_writable_results
from ssllib.engine.params import Param, ParameterError, check_all, check_names
from ssllib.engine.registry import method as find_method
from ssllib.engine.registry import methods
from ssllib.selfsup.config import RUN_PARAMS, RunConfig

PROFILES = ("smoke", "cpu", "paper")
# Parameters that say where the data is, what runs it and how it reports, not what it computes:
# the run configurations' own (``NOT_IDENTITY``), and the chapters' folders of benchmarks and seeds.
WHERE_AND_HOW = {*RunConfig.NOT_IDENTITY, "benchmark_root", "features_dir", "labels_csv", "splits_dir",
                 "allow_download", "first_seed"}


@dataclass(frozen=True)
class ChapterSpec:
    """What a chapter can be given: its parameters and the value of each under each profile."""

    name: str
    params: dict[str, Param]
    profiles: dict[str, dict[str, Any]]
    overlays: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # profile → dataset → values
    notes: dict[str, str] = field(default_factory=dict)  # profile or profile/dataset → what it is
    family: str = "self_supervised"  # or "distillation": which run configuration the settings make
    methods: tuple[str, ...] = ()  # the methods the chapter trains (distillation: checked up front)
    checks: tuple[Callable[["Settings"], None], ...] = ()  # the chapter's own checks across its settings
    backbones: tuple[str, ...] = ()  # settings naming the backbones it trains, when it trains several


class Settings(dict):
    """The resolved parameters of a chapter run: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    given: dict[str, Any] = {}  # the values given explicitly (set by :func:`resolve`)

    @property
    def overrides(self) -> dict[str, Any]:
        """The given values that change the profile's recipe (not where the data is, which device
        runs it or how often it logs)."""
        return {k: v for k, v in self.given.items() if k not in WHERE_AND_HOW}

    @property
    def record_profile(self) -> str:
        """The profile a run's record is filed under: the profile itself when only where and how
        were given; ``<profile>-tiny`` for a dry run and ``<profile>-custom`` for a changed recipe,
        so neither is ever read as the profile's own result."""
        if self.get("budget", "full") != "full":
            return f"{self.profile}-{self.budget}"
        return f"{self.profile}-custom" if self.overrides else self.profile

    @property
    def seed_list(self) -> list[int]:
        """The seeds of a chapter's compared runs: first_seed, …, first_seed + seeds − 1."""
        first = self.get("first_seed", 0)
        return list(range(first, first + self["seeds"]))

    def method_options(self, method: str) -> dict[str, Any]:
        """The settings that are options of ``method`` (its declaration's ``options``)."""
        return {k: self[k] for k in find_method(method).options if k in self}

    def run_config(self, **changes) -> RunConfig:
        """A :class:`RunConfig` from the settings that name run fields, with ``changes`` applied."""
        values = {k: v for k, v in self.items() if k in RUN_PARAMS}
        values.update(changes)
        return RunConfig.from_dict(values)

    def distill_config(self, method: str, **changes):
        """A :class:`~ssllib.distill.config.DistillConfig` of ``method`` from the settings that
        name its fields, with ``changes`` applied."""
        from ssllib.distill.config import DISTILL_PARAMS, DistillConfig
        values = {k: v for k, v in self.items() if k in DISTILL_PARAMS}
        if "student" in self:
            values["network"] = self["student"]
        return DistillConfig.from_dict({**values, "method": method, "options": self.method_options(method), **changes})


FIRST_SEED = Param("first_seed", int, "the first seed: runs use first_seed … first_seed+seeds−1 (another value "
                   "re-runs the chapter on fresh seeds)", min=0)

def overhead_params(method: str, baseline: str) -> dict[str, Param]:
    """``overhead_steps`` and ``overhead_rounds``: how a chapter times ``method``'s training step
    against ``baseline``'s (:func:`ssllib.bench.step.step_time_ratio`, alternating rounds)."""
    return {"overhead_steps": Param("overhead_steps", int, f"training steps per round when timing {method} against "
                                    f"{baseline}", min=1),
            "overhead_rounds": Param("overhead_rounds", int, f"alternating rounds when timing {method} against "
                                     f"{baseline} (the ratio is the median of the rounds' ratios)", min=1)}


PROFILE_PARAM = Param("profile", str, "preset: smoke, cpu or paper (default: $SSLLIB_PROFILE, else cpu)",
                      choices=PROFILES, nullable=True)

PARAMETERS_HEADING = ("# Parameters: None means 'take the value from the profile'. See the table below for each one's "
                      "value.")


def schema(spec: "ChapterSpec") -> dict[str, Param]:
    """Every parameter a chapter takes, in its parameters cell's order: the profile, the budget
    (for a chapter that trains: one with an epoch count), then the chapter's own."""
    trains = any(total in spec.params for total in COUNTED_IN)
    return {"profile": PROFILE_PARAM, **({"budget": BUDGET_PARAM} if trains else {}), **spec.params}


def parameters_source(spec: "ChapterSpec") -> str:
    """The chapter's papermill parameters cell, made from its parameters: one annotated ``None``
    a line, each with its help (and its choices) as the comment ``papermill --help-notebook``
    shows. The book builder writes it into the chapter, so a help text is written once."""
    lines = [PARAMETERS_HEADING]
    for name, param in schema(spec).items():
        annotation = param.annotation if param.annotation.startswith("Optional[") else f"Optional[{param.annotation}]"
        comment = param.help + (f" ({', '.join(map(str, param.choices))})" if param.choices else "")
        lines.append(f"{name}: {annotation} = None  # {comment}".rstrip())
    return "\n".join(lines)


def resolve(spec: ChapterSpec, given: dict[str, Any], check_data: bool = True) -> Settings:
    """Check every given value, pick the profile, shrink it to the budget, fill the rest from it,
    check the settings against each other and the dataset is on disk. Values of None mean 'not
    given'. A wrong name or value raises :class:`ParameterError` at once; the conflicts between
    settings (a schedule against its epochs, a batch against a queue, a dataset that is not there)
    are reported together, in one :class:`ParameterError`."""
    check_names(schema(spec), given, f"the {spec.name} chapter")
    explicit = check_all(schema(spec), {k: v for k, v in given.items() if v is not None}, f"the {spec.name} chapter")
    profile = explicit.pop("profile", None) or os.environ.get("SSLLIB_PROFILE") or "cpu"
    budget = explicit.pop("budget", None) or "full"
    if profile not in PROFILES:
        raise ParameterError(f"SSLLIB_PROFILE={profile!r} is not a profile; choose one of {', '.join(PROFILES)}")
    values = dict(spec.profiles[profile])
    dataset = explicit.get("dataset", values.get("dataset"))
    values.update(spec.overlays.get(profile, {}).get(dataset, {}))
    values = shrink(values, budget)
    values.update(explicit)
    missing = [n for n in spec.params if n not in values]
    if missing:
        raise ParameterError(f"the {profile} profile of {spec.name} sets no value for {', '.join(missing)}")
    settings = Settings(check_all(spec.params, values, f"the {spec.name} chapter"), profile=profile, budget=budget)
    settings.given = dict(explicit)
    problems = Problems()  # each check's own words first; the schedule check adds what they stop before
    if spec.family == "distillation":
        for method in spec.methods:
            problems.attempt(settings.distill_config, method)  # cross-field checks (queue vs batch, teacher, …)
    elif any(k in RUN_PARAMS for k in settings):
        for backbone in [{"backbone": settings[name]} for name in spec.backbones] or [{}]:
            problems.attempt(settings.run_config, **backbone)  # cross-field checks (batch vs queue, …)
            for name, declared in methods("selfsup").items():  # and those of the methods whose options it sets
                if declared.options and all(option in settings for option in declared.options):
                    problems.attempt(settings.run_config, method=name, options=settings.method_options(name),
                                     **backbone)
    for check in spec.checks:
        problems.attempt(check, settings)
    problems.extend(schedule_conflicts(settings))
    if "device" in settings:
        problems.attempt(pick_device, settings.device)  # a device that is not there
    if check_data and any(k in RUN_PARAMS for k in settings) and spec.family != "distillation":
        for backbone in [{"backbone": settings[name]} for name in spec.backbones] or [{}]:
            problems.attempt(lambda: refuse_beyond_memory(step_memory(settings.run_config(**backbone)),
                                                          pick_device(settings.get("device", "auto"))))
    problems.attempt(require_writable_results)
    if check_data:
        for key in ("dataset", "transfer_dataset"):
            if key in settings:
                problems.attempt(require_dataset, settings[key], settings.get("data_root"), settings.get("download", False))
    problems.raise_any(f"the {spec.name} chapter")
    return settings


class Problems(list):
    """The conflicts found while checking a chapter's settings, each said once; one alone is
    raised as it was (a :class:`ParameterError`, or a dataset not on disk), several together."""

    def extend(self, sentences) -> None:
        for sentence in sentences:
            self.append(ParameterError(sentence))

    def append(self, error: Exception) -> None:
        said = str(error).split(" ", 1)[0]  # "name=value": a setting's conflict is said once
        if not any(str(e) == str(error) or ("=" in said and str(e).split(" ", 1)[0] == said) for e in self):
            super().append(error)

    def attempt(self, check: Callable, *args, **kwargs) -> None:
        """Run ``check`` and keep what it raises."""
        from ssllib.data import DatasetNotFound
        try:
            check(*args, **kwargs)
        except (ParameterError, DatasetNotFound) as error:
            self.append(error)

    def raise_any(self, where: str) -> None:
        if len(self) == 1:
            raise self[0]
        if self:
            raise ParameterError(f"{len(self)} problems with {where}'s settings: "
                                 + "; ".join(f"({i}) {e}" for i, e in enumerate(self, 1)))


def describe(spec: ChapterSpec, settings: Settings) -> str:
    """One line saying which profile is in use, what it is for, and what was given besides it."""
    note = spec.notes.get(f"{settings.profile}/{settings.get('dataset')}") or spec.notes.get(settings.profile, "")
    budget = settings.get("budget", "full")
    extra = ([f"budget {budget} (a dry run: one epoch of two small batches, the schedule scaled with it; its "
              f"numbers mean nothing)"] if budget != "full" else [])
    if settings.given:
        extra.append("given: " + ", ".join(f"{k}={v!r}" for k, v in settings.given.items()))
    return (f"profile {settings.profile}" + (f": {note}" if note else "")
            + "".join(f"\n{line}" for line in extra))


def derive(base: dict[str, Any], **changes) -> dict[str, Any]:
    """A profile as ``base`` with ``changes``; a change of a setting ``base`` lacks is a typo."""
    unknown = [k for k in changes if k not in base]
    if unknown:
        raise KeyError(f"{', '.join(unknown)} not in the profile this one derives from")
    return {**base, **changes}


def run_params(*names: str) -> dict[str, Param]:
    """The chapter parameters that are fields of a self-supervised run configuration."""
    return {n: RUN_PARAMS[n] for n in names}


def distill_params(*names: str) -> dict[str, Param]:
    """The chapter parameters that are fields of a distillation run configuration."""
    from ssllib.distill.config import DISTILL_PARAMS
    return {n: DISTILL_PARAMS[n] for n in names}


def option_params(method: str, *names: str) -> dict[str, Param]:
    """The chapter parameters that are options of ``method`` (all of them, or ``names``)."""
    params = find_method(method).option_params()
    return {n: params[n] for n in (names or params)}
