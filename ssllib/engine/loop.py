"""The training loop every run uses: self-supervised, distillation, the transfer probe and the
families still to come.

``fit(task, run)`` owns what all runs share:

- resume from the last completed epoch (a checkpoint written atomically after every epoch),
  or load a run that finished before instead of training it again;
- per-(seed, epoch) random streams for the data order and the augmentation, so a resumed run
  equals an uninterrupted one;
- the step: augmentation on the device, forward under autocast, backward, gradients averaged
  over processes, optional clipping, the optimiser step, the learning rate set at every step;
- the meter (step metrics summed on the device, read back only every ``log_every`` steps, one
  host sync that also checks the loss is finite), the progress bar;
- best-epoch selection: a task that names a validation measure (``selects_on``) has the
  weights of its best epoch kept in the checkpoint, and restored where it asks (``restore_best``);
- the *prefix*: after the first epoch, its history entry and a digest of the whole trained state
  are recorded, so that :mod:`ssllib.engine.verify` can check new code against this run by
  running one epoch instead of the whole run;
- the record and the ledger, written by rank 0 only.

What differs between families is a :class:`Task`: its model, optimiser and batches, and a few
hooks (the inputs of a batch, what to measure after an epoch, what else goes into the
checkpoint, the final metrics). A model's forward returns ``(loss, metrics)``. How a run is
found, loaded, checked or trained is :func:`ssllib.engine.runs.obtain`.
"""
from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from ssllib.engine import progress
from ssllib.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, sealed, write_json
from ssllib.engine.devices import autocast
from ssllib.engine.distributed import (average_batch_norm_statistics, average_gradients, is_main_process,
                                       mean_over_processes, world_size)
from ssllib.engine.identity import RunKey, state_digest
from ssllib.engine.ledger import environment, results_dir, write_record
from ssllib.engine.optim import clip_gradients, learning_rate, set_lr


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _stream_seed(seed: int, epoch: int, stream: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + stream) % (2 ** 63)


def epoch_generator(seed: int, epoch: int, stream: int, device: torch.device) -> torch.Generator:
    """An independent random stream per (seed, epoch, purpose): 0 data order, 1 augmentation."""
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu")
    return gen.manual_seed(_stream_seed(seed, epoch, stream))


class EpochMeter:
    """Step metrics summed on the device, read back only at log points: the epoch's means and
    a trace of window means (one entry per log point)."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}    # over the epoch
        self.window: dict[str, torch.Tensor] = {}  # since the last log point
        self.trace: list[dict] = []
        self.window_start = 0

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        for name, value in metrics.items():
            self.sums[name] = self.sums.get(name, 0) + value.float()
            self.window[name] = self.window.get(name, 0) + value.float()

    def log_point(self, global_step: int, epoch: int, step: int, ckpt_path: Path, bar, steps: int,
                  suspects: str = "") -> None:
        """One host sync: check the loss is finite, append to the trace, move the progress bar.
        With several processes the metrics are first averaged over them (the global batch's)."""
        self.sums, self.window = mean_over_processes(self.sums), mean_over_processes(self.window)
        check_finite(self.sums["loss"], epoch, step, ckpt_path, suspects)
        self.trace.append({"step": global_step,
                           **{name: (value / (step + 1 - self.window_start)).item()
                              for name, value in self.window.items()}})
        self.window, self.window_start = {}, step + 1
        bar.update(step + 1 - (bar.n - epoch * steps))
        bar.set_postfix(epoch=epoch + 1, loss=f"{self.sums['loss'].item() / (step + 1):.3f}")

    def epoch_means(self, steps: int) -> dict:
        return {**{name: (value / steps).item() for name, value in self.sums.items()}, "trace": self.trace}


# Settings that scale a step or a loss, the usual causes of a loss that runs off to NaN or infinity.
DIVERGENCE_SUSPECTS = ("lr", "weight_decay", "temperature", "kd_temperature", "grad_clip", "batch_size")


def divergence_suspects(config) -> str:
    """The run's settings that could make its loss diverge, as 'lr=0.06, temperature=0.2, …':
    the step's and the losses' scales, and the method's own numeric options."""
    values = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    named = {k: values[k] for k in DIVERGENCE_SUSPECTS if values.get(k) not in (None, 0, 0.0)}
    named.update({k: v for k, v in (values.get("options") or {}).items()
                  if isinstance(v, float) and not isinstance(v, bool)})
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in named.items())


def check_finite(loss_sum: torch.Tensor, epoch: int, step: int, ckpt_path: Path, suspects: str = "") -> None:
    if not math.isfinite(loss_sum.item()):
        kept = f"the checkpoint of the last good epoch is kept at {ckpt_path}" if ckpt_path.exists() else \
            "no checkpoint was written yet"
        which = f"the settings that could cause it: {suspects}; " if suspects else ""
        raise TrainingDiverged(f"the loss became {loss_sum.item()} at epoch {epoch + 1}, step {step + 1}; {which}"
                               f"lower the learning rate first, or check the data ({kept})")


class Task:
    """What a family hands the loop. Subclasses set ``model``, ``optimizer``, ``batches``
    (with ``len`` and ``epoch(generator, with_index=True)``) and ``label``, and override the
    hooks they need.

    Best-epoch selection is the loop's: a task that sets ``selects_on`` (a key its
    :meth:`after_epoch` writes, measured on held-out training data) gets ``best`` = {'epoch',
    'value', 'weights'} of :meth:`selected_module`, the highest value so far (ties keep the
    earlier epoch); with ``restore_best`` those weights are loaded before the final metrics and
    whenever the finished run is loaded."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: Any
    label: str = "training"
    selects_on: str | None = None
    restore_best: bool = False
    best: dict | None = None

    def inputs(self, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor, generator) -> tuple:
        """The model's inputs for one batch (augmented on the device)."""
        raise NotImplementedError

    def after_epoch(self, epoch: int, entry: dict) -> None:
        """Add what is measured after an epoch to its history ``entry`` (never on the test split)."""

    def selected_module(self) -> nn.Module:
        """The module whose weights best-epoch selection keeps."""
        return self.model

    def module_at_best(self) -> nn.Module:
        """A copy of :meth:`selected_module` with the best epoch's weights (the last epoch's when
        nothing was selected)."""
        module = copy.deepcopy(self.selected_module())
        if self.best is not None:
            module.load_state_dict(self.best["weights"])
        return module

    def state(self) -> dict:
        """What the checkpoint holds besides the optimiser, the epoch, the history and the best epoch."""
        return {"model": self.model.state_dict()}

    def load_state(self, state: dict, source: str) -> None:
        from ssllib.engine.checkpoint import load_weights

        load_weights(self.model, state["model"], source)

    def final_metrics(self, history: list[dict]) -> dict:
        """The run's metrics after its last epoch, each {'value', 'protocol'}."""
        return {}

    def record_fields(self) -> dict:
        """Fields of the record besides the common ones (backbone, teacher, …)."""
        return {}


@dataclass
class Run:
    """One run: its identity, where it lives, and how it is made. A trained run has
    ``make_task`` (building the task may load the runs it reads, such as a teacher, so it is
    called only when the run must train, be checked or have its weights loaded); an evaluation
    has ``evaluate`` (returns its metrics) instead."""

    config: Any               # a run configuration: to_dict(), identity(), epochs, seed, log_every, grad_clip
    key: RunKey
    device: torch.device
    make_task: Callable[[], Task] | None = None
    evaluate: Callable[[], dict] | None = None
    dtype: torch.dtype | None = None
    paper: str = ""
    profile: str = ""
    method: str = ""
    dataset: str = ""
    fields: dict = field(default_factory=dict)   # record fields of an evaluation (backbone, …)
    ledger: bool = True       # also write the record to the ledger
    ledger_dir: Path | None = None
    runs_dir: Path | None = None

    @property
    def run_id(self) -> str:
        return self.key.run_id

    @property
    def code(self) -> str:
        return self.key.code

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir or results_dir() / "runs") / self.run_id

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def record_path(self) -> Path:
        return self.run_dir / "record.json"


@dataclass
class Fitted:
    history: list[dict]
    record: dict
    trained_now: bool = True


def previous_state(run: Run, retrain: bool = False) -> dict | None:
    """The checkpoint of an earlier (finished or interrupted) run with the same identity, or
    None to start afresh; a checkpoint of another configuration is left alone, with an error.
    Settings that are not part of the identity (device, logging, workers, paths) may differ."""
    path = run.checkpoint_path
    if retrain or not path.exists():
        return None
    state = load_checkpoint(path, map_location=run.device)
    saved = state.get("identity", state.get("config"))
    if saved != run.config.identity():
        raise CheckpointError(f"{path} was written by another configuration; move it aside to train this one")
    return state


def optimise(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: tuple, device: torch.device,
             dtype, epoch: int, progress_fraction: float, generator=None, grad_clip: float = 0.0):
    """One forward (under autocast where enabled), backward and optimiser step; with several
    processes the gradients are averaged over them before clipping and the step. Returns the
    step's detached metrics."""
    with autocast(device, dtype):
        loss, metrics = model(*inputs, epoch=epoch, progress=progress_fraction, generator=generator)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(p for group in optimizer.param_groups for p in group["params"])
    clip_gradients(optimizer, grad_clip)
    optimizer.step()
    return metrics


TIMINGS = ("seconds",)  # history fields that measure time, not what was computed


def comparable(entry: dict) -> dict:
    """A history entry as JSON gives it back, without its timings: what a prefix check compares."""
    return json.loads(json.dumps({k: v for k, v in entry.items() if k not in TIMINGS}))


def trained_state_digest(task: Task) -> str:
    """Digest of everything the run has trained: the task's state and the optimiser's."""
    return state_digest(task.state(), task.optimizer.state_dict())


def _select(task: Task, epoch: int, entry: dict) -> None:
    value = entry.get(task.selects_on) if task.selects_on else None
    if value is not None and (task.best is None or value > task.best["value"]):
        task.best = {"epoch": epoch + 1, "value": value,
                     "weights": copy.deepcopy(task.selected_module().state_dict())}


def restore_best(task: Task) -> None:
    """Load the best epoch's weights into the selected module, where the task asks for it."""
    if task.restore_best and task.best is not None:
        task.selected_module().load_state_dict(task.best["weights"])


def train_one_epoch(task: Task, run: Run, epoch: int, bar) -> dict:
    """One epoch of ``task``: its steps on the epoch's own random streams, then the epoch's
    history entry (the learning rate, the means of the step metrics and their trace)."""
    cfg = run.config
    steps = len(task.batches)
    total_steps = steps * cfg.epochs
    task.model.train()
    data_order = epoch_generator(cfg.seed, epoch, 0, torch.device("cpu"))
    augmentation = epoch_generator(cfg.seed, epoch, 1, run.device)
    epoch_meter = EpochMeter()
    suspects = divergence_suspects(cfg)
    for step, (images, labels, index) in enumerate(task.batches.epoch(data_order, with_index=True)):
        global_step = epoch * steps + step
        set_lr(task.optimizer, learning_rate(cfg, global_step, steps))
        inputs = task.inputs(images, labels, index, augmentation)
        epoch_meter.add(optimise(task.model, task.optimizer, inputs, run.device, run.dtype, epoch,
                                 global_step / total_steps, augmentation, cfg.grad_clip))
        if (step + 1) % cfg.log_every == 0 or step + 1 == steps:
            epoch_meter.log_point(global_step + 1, epoch, step, run.checkpoint_path, bar, steps, suspects)
    entry = {"epoch": epoch + 1, "lr": task.optimizer.param_groups[0]["lr"], **epoch_meter.epoch_means(steps)}
    average_batch_norm_statistics(task.model)  # as one process with bn_splits = processes keeps them
    return entry


def fit(task: Task, run: Run, retrain: bool = False, prefix_only: bool = False) -> Fitted:
    """Train ``task`` for ``run.config.epochs`` (resuming from the run's checkpoint), then
    write its record. With ``prefix_only``: train the first epoch only, from scratch, write
    nothing, and return a record that holds just the ``prefix``. Gradients are on whatever the
    caller's context (a run can be trained from within an evaluation under ``no_grad``)."""
    with torch.enable_grad():
        return _fit(task, run, retrain, prefix_only)


def _fit(task: Task, run: Run, retrain: bool, prefix_only: bool) -> Fitted:
    cfg = run.config
    history: list[dict] = []
    start_epoch, started, prefix = 0, datetime.now(timezone.utc).isoformat(timespec="seconds"), None
    state = None if prefix_only else previous_state(run, retrain)
    if state is not None:
        task.load_state(state, str(run.checkpoint_path))
        task.optimizer.load_state_dict(state["optimizer"])
        history, start_epoch, started = state["history"], state["epoch"], state["started"]
        task.best, prefix = state.get("best"), state.get("prefix")

    steps = len(task.batches)
    bar = progress.bar(steps * cfg.epochs, task.label, initial=start_epoch * steps, steps_per_epoch=steps)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        entry = train_one_epoch(task, run, epoch, bar)
        task.after_epoch(epoch, entry)
        _select(task, epoch, entry)
        entry["seconds"] = time.perf_counter() - t0
        bar.set_postfix(**{k: f"{v:.3f}" if isinstance(v, float) else v for k, v in entry.items()
                           if k in ("epoch", "loss", "knn_monitor", "val_top1")})
        history.append(entry)
        if epoch == 0:
            prefix = {"epochs": 1, "entry": comparable(entry), "state_sha256": trained_state_digest(task),
                      "threads": torch.get_num_threads(), "processes": world_size(), "device": run.device.type}
            if prefix_only:
                bar.close()
                return Fitted(history, {"prefix": prefix}, trained_now=True)
        if is_main_process():
            save_checkpoint({**task.state(), "optimizer": task.optimizer.state_dict(), "epoch": epoch + 1,
                             "history": history, "config": cfg.to_dict(), "identity": cfg.identity(),
                             "code": run.code, "started": started, "best": task.best, "prefix": prefix},
                            run.checkpoint_path)
    bar.close()
    final_state = trained_state_digest(task)
    restore_best(task)
    task.model.eval()

    t0 = time.perf_counter()
    metrics = task.final_metrics(history) if is_main_process() else {}
    evaluation_s = time.perf_counter() - t0
    record = {
        **base_record(run), "epochs": cfg.epochs, "metrics": metrics, **task.record_fields(),
        "environment": environment(run.device, world_size()),
        "wall_time_s": sum(h["seconds"] for h in history), "evaluation_s": evaluation_s, "started": started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "history": history,
        "prefix": prefix, "state_sha256": final_state,
        **({"best_epoch": task.best["epoch"]} if task.best is not None else {}),
    }
    if is_main_process():
        write_run_record(record, run)
    return Fitted(history, record, trained_now=True)


def base_record(run: Run) -> dict:
    """The fields every record has: what the run is, its identity and the runs it read."""
    config = run.config.to_dict() if hasattr(run.config, "to_dict") else dict(run.config)
    return {"run_id": run.run_id, "setting": run.key.setting, "code": run.code, "inputs": run.key.inputs,
            "paper": run.paper, "method": run.method, "dataset": run.dataset, "profile": run.profile,
            "seed": config.get("seed"), "config": config}


def write_run_record(record: dict, run: Run) -> None:
    """The record, sealed with its digest, in the run's folder and in the ledger where the run keeps one."""
    record = sealed(record)
    write_json(record, run.record_path)
    if run.ledger:
        write_record(record, run.ledger_dir)
