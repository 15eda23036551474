"""How a run is obtained, whatever its family: found, checked, or trained; and the one result
type every family returns.

:func:`obtain` looks for the run's result in this order:

1. a finished record under the run's id, committed with the book or local
   (:mod:`ssllib.engine.store`): nothing is trained or loaded;
2. a local checkpoint of the run: resumed (or finished) by the loop;
3. a finished run of the same *setting* under other code (a predecessor): its first epoch is
   run again under the current code and compared bit for bit (:mod:`ssllib.engine.verify`);
   when equal, the predecessor's results are re-keyed to this run's id, else the run trains;
4. otherwise the run trains (or, for an evaluation, is measured).

A :class:`Result` holds the record. Its ``model`` is loaded only when asked for: from the local
checkpoint (checked against the record's digest of the trained state), or, where this machine
has none, by training the run again, whose new record then replaces the old one.
:meth:`Result.derived` keeps small values computed from the model (a chapter's diagnostics)
with the run, so that a re-execution reads them instead of needing the weights.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch

from ssllib.engine import store
from ssllib.engine.artifacts import read_artifact, write_artifact
from ssllib.engine.checkpoint import load_checkpoint, note_run, run_lock
from ssllib.engine.distributed import is_main_process, world_size
from ssllib.engine.fingerprint import module_digest, normalised_code
from ssllib.engine.ledger import environment
from ssllib.engine.loop import Fitted, Run, Task, base_record, fit, restore_best, trained_state_digest, \
    write_run_record

VERIFY_ENV = "SSLLIB_VERIFY"   # '0' turns off the prefix check of predecessors (they are then retrained)
REPLACED = "replaced:"         # marks, in the list of runs used, a record replaced during an execution
OUTCOMES = ("trained:", "re-keyed:", "measured:", REPLACED)   # markers of what happened, not runs


LOG_ENV = "SSLLIB_LOG"         # a file every line of :func:`say` is appended to (the book builder sets one)


def say(message: str) -> None:
    """A line on stderr for what the engine decides about a run (checked, re-keyed, trained
    again), unless ``$SSLLIB_QUIET`` is 1; also appended to ``$SSLLIB_LOG`` where set."""
    if not is_main_process():
        return
    if os.environ.get("SSLLIB_QUIET") != "1":
        print(message, file=sys.stderr, flush=True)
    if log := os.environ.get(LOG_ENV):
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} {message}\n")


# The artifacts read while a run's task is built: what its training consumes of other runs (a
# D&D student's teacher logits). Its record lists them (``consumed``), so that they are kept with
# the book while the run is, although a chapter that finds the run never reads them again.
_CONSUMING: list[list[str]] = []


@contextlib.contextmanager
def _consuming():
    read: list[str] = []
    _CONSUMING.append(read)
    try:
        yield read
    finally:
        _CONSUMING.pop()


def build_task(run: Run) -> tuple[Task, list[str]]:
    """``run.make_task()`` and the artifacts (of other runs) building it read."""
    with _consuming() as read:
        task = run.make_task()
    return task, sorted(set(read))


class Result:
    """A run's result, for every family: its record, and its model on demand."""

    def __init__(self, run: Run, record: dict, source: str, task: Task | None = None):
        self.run, self.record, self.source, self._task = run, record, source, task

    # what the record says
    @property
    def config(self):
        return self.run.config

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def record_path(self) -> Path:
        """Where the record is kept: the run's committed folder, else its local one."""
        folder = store.committed_folder(self.run_id) if self.source == "committed" else None
        return (folder or self.run.run_dir) / store.RECORD

    @property
    def history(self) -> list[dict]:
        return self.record.get("history", [])

    @property
    def trained_now(self) -> bool:
        """Whether this execution trained (or measured) the run, rather than reading it."""
        return self.source in ("trained", "resumed", "retrained", "measured")

    def metric(self, name: str) -> float:
        return self.record["metrics"][name]["value"]

    # what needs the weights
    @property
    def task(self) -> Task:
        if self._task is None:
            self._task = self._load_task()
        return self._task

    @property
    def model(self) -> torch.nn.Module:
        """The trained model (best epoch's weights where the family restores them), in eval mode."""
        return self.task.model

    def _load_task(self) -> Task:
        run = self.run
        if run.make_task is None:
            raise ValueError(f"run {run.run_id} is an evaluation: it has no model")
        task, consumed = build_task(run)
        path = run.checkpoint_path
        if path.exists():
            state = load_checkpoint(path, map_location=run.device)
            if state.get("epoch", 0) >= run.config.epochs:
                task.load_state(state, str(path))
                task.optimizer.load_state_dict(state["optimizer"])
                task.best = state.get("best")
                expected = self.record.get("state_sha256")
                if expected is None or trained_state_digest(task) == expected:
                    restore_best(task)
                    task.model.eval()
                    return task
                say(f"{run.run_id}: the checkpoint on this machine is another training of this run than its "
                    f"record; the run is trained again so that its weights and its record agree")
                shutil.move(str(path), str(path.with_suffix(".pt.other")))
                task, consumed = build_task(run)
        say(f"{run.run_id}: its weights are needed and this machine has no finished checkpoint of it; training it")
        with writer(run):
            shutil.rmtree(run.run_dir / store.ARTIFACTS, ignore_errors=True)   # made from other weights, if any
            fitted = fit(task, run)
        self.record, self.source = with_consumed(fitted.record, consumed, run), "retrained"
        note_run(REPLACED + run.run_id)
        note_run(f"trained:{run.run_id}")
        return task

    # small values kept with the run
    def derived(self, name: str, compute: Callable[[], Any], key: dict | None = None) -> Any:
        """``compute()`` (which may use :attr:`model`), kept with the run as artifact ``name``:
        read back, instead of computed, while the run, ``key`` (JSON values: what else the
        value depends on) and the code of ``compute`` are unchanged."""
        stem_name = f"{name}-{_artifact_key(compute, key)}"
        entry = f"{self.run_id}/{store.ARTIFACTS}/{stem_name}"
        for read in _CONSUMING:
            read.append(entry)
        found = store.find_artifact(self.run_id, stem_name, self.run.runs_dir, committed=self.source != "retrained")
        if found is not None:
            return read_artifact(found)
        value = compute()
        write_artifact(value, store.artifact_stem(self.run.run_dir, stem_name))
        note_run(entry)
        return value


def _code_of(function: Callable) -> str:
    """The normalised code ``function`` is defined in: its module's, for a function of a module
    (ssllib's, or a script's); else its own source's (a function of a notebook)."""
    module = inspect.getmodule(function)
    path = Path(getattr(module, "__file__", "") or "")
    if path.suffix == ".py" and path.is_file():
        return module_digest(path.resolve())
    try:
        return hashlib.sha256(normalised_code(inspect.getsource(function).strip()).encode()).hexdigest()
    except (OSError, TypeError, SyntaxError):
        return getattr(function, "__qualname__", repr(function))


def _artifact_key(compute: Callable, key: dict | None) -> str:
    payload = json.dumps({"key": key or {}, "code": _code_of(compute)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _found(run: Run, record: dict, folder: Path) -> Result:
    note_run(run.run_id)
    where = "committed" if folder.resolve().is_relative_to(store.papers_dir().resolve()) else "local"
    return Result(run, record, where)


def obtain(run: Run, retrain: bool = False) -> Result:
    """The run's result: found, resumed, re-keyed after a prefix check, or trained (module
    docstring). ``retrain`` ignores what was found and trains from scratch."""
    if not retrain:
        found = store.find_record(run.run_id, run.runs_dir)
        if found is not None:
            return _found(run, *found)
    if run.make_task is None:
        return _measure(run)
    with writer(run):
        if not retrain and (found := store.find_record(run.run_id, run.runs_dir)) is not None:
            return _found(run, *found)   # finished by another process while this one waited to write
        if not retrain and not run.checkpoint_path.exists() and os.environ.get(VERIFY_ENV, "1") != "0":
            from ssllib.engine.verify import try_predecessors

            result = try_predecessors(run)
            if result is not None:
                return result
        resumed = run.checkpoint_path.exists() and not retrain
        task, consumed = build_task(run)
        fitted: Fitted = fit(task, run, retrain)
        note_run(run.run_id)
        note_run(f"trained:{run.run_id}")
        return Result(run, with_consumed(fitted.record, consumed, run), "resumed" if resumed else "trained", task)


def writer(run: Run):
    """The run folder's lock (:class:`~ssllib.engine.checkpoint.run_lock`), held by the process
    that writes its checkpoints and record: rank 0 of several, the only one otherwise."""
    return run_lock(run.run_dir, run.run_id) if is_main_process() else contextlib.nullcontext()


def with_consumed(record: dict, consumed: list[str], run: Run) -> dict:
    """``record`` listing the artifacts of other runs its training read (written again where
    there are any)."""
    if consumed and is_main_process():
        record = {**record, "consumed": consumed}
        write_run_record(record, run)
    return record


def _measure(run: Run) -> Result:
    """An evaluation: its metrics measured now, recorded like a trained run's."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    metrics = run.evaluate()
    record = {**base_record(run), "kind": "evaluation", "epochs": None, "metrics": metrics, **run.fields,
              "environment": environment(run.device, world_size()), "wall_time_s": time.perf_counter() - t0,
              "evaluation_s": time.perf_counter() - t0, "started": started,
              "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    carried_from = _carry_over(run, record)
    if carried_from is not None:
        record["rekeyed"] = [*carried_from.get("rekeyed", []), {
            "from": carried_from["run_id"], "code": carried_from.get("code"),
            "checked": "measured again: every metric equal", "date": record["finished"]}]
    if is_main_process():
        write_run_record(record, run)
    note_run(run.run_id)
    note_run(f"measured:{run.run_id}")
    return Result(run, record, "measured")


def _carry_over(run: Run, record: dict) -> dict | None:
    """The predecessor (same setting) of an evaluation measured again with exactly its metrics,
    whose artifacts are then kept for the new run (nothing they were computed from changed),
    or None."""
    for previous, folder in store.predecessors(run.key.setting, run.run_id, run.runs_dir):
        if previous.get("kind") == "evaluation" and previous.get("metrics") == json.loads(
                json.dumps(record["metrics"], default=str)):
            artifacts = folder / store.ARTIFACTS
            for path in sorted(artifacts.glob("*")) if artifacts.is_dir() else []:
                target = run.run_dir / store.ARTIFACTS / path.name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
            return previous
    return None
