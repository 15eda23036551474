"""A change of code that changes no number costs no retrain: a run whose code identity changed
is checked against its predecessor (the same setting, trained under the earlier code) by running
its first epoch again and comparing bit for bit.

The loop records, when a run first trains, its *prefix*: the first epoch's history entry (losses
and their trace, the learning rate, what is measured after the epoch) and a sha256 of the whole
trained state after it (weights, buffers, queues, optimiser state), with the thread and process
counts it ran on. The check builds the run's task under the current code, trains that one epoch
on the same thread count, and compares both. Where this machine still holds the predecessor's
final checkpoint, it also loads it and recomputes the final metrics, which must equal the
record's. When everything is equal the predecessor's record and artifacts are re-keyed to the
new run id (the record lists each re-keying under ``rekeyed``: from which id, what was checked,
how long it took); otherwise the run is trained.

Bit-equality needs the same kind of device and, on a CPU, the same thread count (and in practice
the same machine): elsewhere the check fails and the run is trained, which is always safe.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from ssllib.engine import store
from ssllib.engine.checkpoint import load_checkpoint, note_run
from ssllib.engine.distributed import world_size
from ssllib.engine.ledger import device_name
from ssllib.engine.loop import Run, fit, restore_best, trained_state_digest, write_run_record
from ssllib.engine.runs import Result, build_task, say


@dataclass
class Check:
    equal: bool
    checked: str         # what was compared
    why: str = ""        # what differed, when not equal
    seconds: float = 0.0
    consumed: list = field(default_factory=list)   # the artifacts of other runs its task read


def _threads(n: int):
    class Threads:
        def __enter__(self):
            self.before = torch.get_num_threads()
            torch.set_num_threads(n)

        def __exit__(self, *exc):
            torch.set_num_threads(self.before)
    return Threads()


def _first_difference(a, b, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {a!r} then, {b!r} now"


def check_prefix(run: Run, record: dict, folder: Path) -> Check:
    """Train the first epoch of ``run`` under the current code and compare it with the prefix
    ``record`` holds; then, where the predecessor's checkpoint is here, its final metrics."""
    prefix = record["prefix"]
    if prefix.get("device") != run.device.type or prefix.get("processes") != world_size():
        return Check(False, "nothing", f"the prefix was trained on {prefix.get('processes')} {prefix.get('device')} "
                                       f"process(es), this run on {world_size()} {run.device.type}")
    t0 = time.perf_counter()
    with _threads(prefix["threads"]):
        task, consumed = build_task(run)
        now = fit(task, run, prefix_only=True).record["prefix"]
    checked = f"epoch 1's history entry and trained-state sha256 on {prefix['threads']} thread(s)"
    if now["entry"] != prefix["entry"]:
        return Check(False, checked, "history " + _first_difference(prefix["entry"], now["entry"]),
                     time.perf_counter() - t0)
    if now["state_sha256"] != prefix["state_sha256"]:
        return Check(False, checked, "the trained state after epoch 1 differs", time.perf_counter() - t0)
    checkpoint = _local_checkpoint(record["run_id"], folder, run)
    if checkpoint is not None:
        with _threads(prefix["threads"]):
            task.load_state(checkpoint, "the predecessor's checkpoint")
            task.optimizer.load_state_dict(checkpoint["optimizer"])
            task.best = checkpoint.get("best")
            state = trained_state_digest(task)
            restore_best(task)
            task.model.eval()
            metrics = json.loads(json.dumps(task.final_metrics(record.get("history", []))))
        checked += "; final metrics recomputed from the final checkpoint"
        if record.get("state_sha256") not in (None, state):
            return Check(False, checked, "the final checkpoint here is not the recorded run's",
                         time.perf_counter() - t0)
        if metrics != record["metrics"]:
            return Check(False, checked, "metrics " + _first_difference(record["metrics"], metrics),
                         time.perf_counter() - t0)
    return Check(True, checked, seconds=time.perf_counter() - t0, consumed=consumed)


def _local_checkpoint(run_id: str, folder: Path, run: Run) -> dict | None:
    for candidate in (folder / "checkpoint.pt", store.local_runs_dir() / run_id / "checkpoint.pt",
                      Path(run.runs_dir or store.local_runs_dir()) / run_id / "checkpoint.pt"):
        if candidate.exists():
            state = load_checkpoint(candidate, map_location=run.device)
            return state if state.get("epoch", 0) >= run.config.epochs else None
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def rekey(run: Run, record: dict, folder: Path, check: Check) -> Result:
    """The predecessor's record and artifacts under ``run``'s id (its local checkpoint too)."""
    old = record["run_id"]
    entry = {"from": old, "code": record.get("code"), "checked": check.checked, "seconds": round(check.seconds, 2),
             "on": device_name(run.device), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    new = {**record, "run_id": run.run_id, "code": run.code, "inputs": run.key.inputs,
           "rekeyed": [*record.get("rekeyed", []), entry]}
    new.pop("consumed", None)
    if check.consumed:
        new["consumed"] = check.consumed
    for source_folder in (folder, Path(run.runs_dir or store.local_runs_dir()) / old):
        artifacts = source_folder / store.ARTIFACTS
        for path in sorted(artifacts.glob("*")) if artifacts.is_dir() else []:
            _link_or_copy(path, run.run_dir / store.ARTIFACTS / path.name)
        if (source_folder / "checkpoint.pt").exists():
            _link_or_copy(source_folder / "checkpoint.pt", run.checkpoint_path)
    write_run_record(new, run)
    note_run(run.run_id)
    note_run(f"re-keyed:{run.run_id}")
    return Result(run, new, "re-keyed")


def try_predecessors(run: Run) -> Result | None:
    """The run re-keyed from its newest predecessor with a recorded prefix, when the check
    passes; None when there is none or it fails (the caller then trains)."""
    candidates = [(r, f) for r, f in store.predecessors(run.key.setting, run.run_id, run.runs_dir) if r.get("prefix")]
    if not candidates:
        return None
    record, folder = candidates[0]
    say(f"{run.run_id}: its code changed since {record['run_id']}; checking the first epoch against it …")
    check = check_prefix(run, record, folder)
    if not check.equal:
        say(f"{run.run_id}: differs from {record['run_id']} ({check.why}); training it")
        return None
    say(f"{run.run_id}: equal to {record['run_id']} bit for bit ({check.checked}, {check.seconds:.1f} s); re-keyed")
    return rekey(run, record, folder, check)
