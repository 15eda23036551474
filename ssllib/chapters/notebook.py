"""Plumbing shared by the chapter notebooks: parameters in, provenance out.

A chapter's first code cell takes a snapshot of its namespace; the parameters cell (and the
cell papermill injects after it) then define the parameters; ``parameters_since`` returns
exactly those names, so a misspelt ``-p`` name is caught instead of silently ignored.
"""
from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ssllib.engine.allocator import keep_freed_memory
from ssllib.engine.fingerprint import code_fingerprint
from ssllib.engine.ledger import REPO_ROOT, device_name, git_commit
from ssllib.chapters.spec import ChapterSpec, Settings
from ssllib.chapters.spec import describe as _describe

# Where the book's executor wants to know what an execution ran (profile, budget, values given):
# it files the executed copy's runs under that profile (``python -m ssllib.book run``).
SETTINGS_FILE_ENV = "SSLLIB_SETTINGS_FILE"


def describe(spec: ChapterSpec, settings: Settings) -> str:
    """The chapter's settings line (:func:`ssllib.chapters.spec.describe`); where the book's
    executor asks (``$SSLLIB_SETTINGS_FILE``), also what this execution ran, for the executed
    copy's metadata."""
    import json
    import os

    target = os.environ.get(SETTINGS_FILE_ENV)
    if target:
        from ssllib.engine.checkpoint import write_json
        write_json({"profile": settings.profile, "budget": settings.get("budget", "full"),
                    "record_profile": settings.record_profile, "given": json.loads(json.dumps(settings.given,
                                                                                           default=str))}, target)
    return _describe(spec, settings)


def snapshot(namespace: dict[str, Any]) -> frozenset[str]:
    """The names defined so far (call before the parameters cell). Also makes the errors a
    reader can cause (a bad parameter, a missing dataset, a damaged checkpoint, a diverged
    run) print as their one-sentence message instead of a long traceback, and keeps freed CPU
    memory for reuse (:func:`~ssllib.engine.allocator.keep_freed_memory`), and numbers the
    page's tables from 1 (:mod:`ssllib.chapters.tables`)."""
    from ssllib.chapters.tables import restart

    _short_errors()
    keep_freed_memory()
    restart()  # the page's tables are numbered from 1
    return frozenset(namespace)


def _short_errors() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from ssllib.engine.checkpoint import CheckpointError, WriteError
    from ssllib.data import DatasetDamaged, DatasetNotFound
    from ssllib.evaluate.linear import ProbeDiverged
    from ssllib.engine.params import ParameterError
    from ssllib.engine.loop import TrainingDiverged

    def show(shell, etype, value, tb, tb_offset=None):
        message = [f"{etype.__name__}: {value}"]
        shell._showtraceback(etype, value, message)
        return message

    shell.set_custom_exc((ParameterError, DatasetNotFound, DatasetDamaged, CheckpointError, TrainingDiverged,
                          ProbeDiverged, PermissionError, WriteError), show)


def parameters_since(namespace: dict[str, Any], before: frozenset[str]) -> dict[str, Any]:
    """The names defined after ``before`` was taken, except private ones and modules."""
    return {name: value for name, value in namespace.items()
            if name not in before and not name.startswith("_") and not inspect.ismodule(value)}


def settings_frame(spec: ChapterSpec, settings: Settings) -> pd.DataFrame:
    """Each parameter of the chapter: the value this run used, where that value came from and
    what it means (its whole help text, with its choices). A value the profile leaves unset
    (None) is shown as the run resolved it: ``data_root`` as the library's default folder
    ("default"), a configuration field the run fills in from other settings, such as a
    distillation's learning rate from the student network, as that value ("derived")."""
    resolved = _resolved_unset(spec, settings)
    rows = []
    for name, param in spec.params.items():
        value = settings[name]
        origin = "given" if name in settings.given else f"{settings.profile} profile"
        if value is None and name in resolved and name not in settings.given:
            value, origin = resolved[name]
        meaning = param.help + (f" (choices: {', '.join(map(str, param.choices))})" if param.choices else "")
        rows.append({"parameter": name, "value": value_text(value), "from": origin, "meaning": meaning})
    return pd.DataFrame(rows).set_index("parameter")


def settings_table(spec: ChapterSpec, settings: Settings) -> None:
    """The chapter's settings appendix: :func:`settings_frame` as a numbered, captioned table."""
    from ssllib.chapters.tables import show

    given = "; 'given': passed explicitly (papermill -p)" if settings.given else ""
    show(settings_frame(spec, settings),
         f"Every parameter of this chapter: the value this run used, where it came from ('{settings.profile} "
         f"profile': the preset this run used{given}; 'default': the library's default where the profile leaves "
         f"it unset; 'derived': worked out from other settings, as its meaning says) and what it means.")


def value_text(value) -> str:
    """A setting as a reader would pass it: numbers without a needless '.0', a tuple as its
    items, an empty text as 'empty', an unset value as 'not set'."""
    from ssllib.chapters.tables import whole

    if value is None:
        return "not set"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if not value.is_integer() else whole(value)
    if isinstance(value, tuple):
        return ", ".join(value_text(v) for v in value)
    if value == "":
        return "empty"
    return str(value)


def _resolved_unset(spec: ChapterSpec, settings: Settings) -> dict[str, tuple[Any, str]]:
    """The values the run used for the settings left unset (None): ``{name: (value, origin)}``."""
    out: dict[str, tuple[Any, str]] = {}
    if "data_root" in settings and settings["data_root"] is None:
        from ssllib.data.registry import default_data_root
        home, root = str(Path.home()), str(default_data_root())
        text = "~" + root[len(home):] if root.startswith(home + "/") else root
        out["data_root"] = (text, "default")
    try:
        if spec.family == "distillation" and spec.methods:
            config = settings.distill_config(spec.methods[0]).to_dict()
        elif any(name in settings for name in ("backbone", "queue_size")):
            config = settings.run_config().to_dict()
        else:
            config = {}
    except Exception:  # a chapter whose settings make no single run configuration
        config = {}
    for name in spec.params:
        if settings[name] is None and config.get(name) is not None and name not in out:
            out[name] = (config[name], "derived")
    return out


def source(obj) -> str:
    """The source of a library object as a Markdown code block (for ``display(Markdown(...))``)."""
    return "```python\n" + textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n```"


def paper_file(slug: str, name: str) -> Path:
    """A file of ``papers/<slug>/`` (published tables, recipes, committed runs)."""
    path = REPO_ROOT / "papers" / slug / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; it ships with the repository (git checkout papers/{slug})")
    return path


def provenance() -> str:
    """Which code, library versions and machine produced the outputs above: the full commit it
    was built from, '+dirty' when the tree held more than that commit (a build given
    ``--allow-modified``), or that it was not built from a git checkout."""
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    commit = git_commit()
    stated = ("no git commit (not built from a git checkout)" if commit is None else
              f"git {commit} (files differed from this commit)" if commit.endswith("+dirty") else f"git {commit}")
    return f"ssllib code {code_fingerprint()} · {stated} · torch {torch.__version__} · {device_name(device)}"


from ssllib.chapters.tables import show as table  # noqa: E402 (chapters show every table through it)

__all__ = ["snapshot", "parameters_since", "settings_frame", "settings_table", "table", "source", "provenance",
           "describe"]
