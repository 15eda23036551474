"""A chapter's training budget: which settings count epochs, how a recipe shrinks to a dry run,
and the checks between a schedule and the epochs it is counted in.

A recipe's epoch-valued settings (warm-ups, milestones, cool-downs) are each counted in one total
(``epochs``, ``teacher_epochs``, ``transfer_epochs``, …). ``budget="tiny"`` sets every total to one
epoch and scales each epoch-valued setting by the same factor as its total, so a schedule keeps its
shape (milestones at 150, 180 and 210 of 240 epochs move to 0.625, 0.75 and 0.875 of one epoch);
it trains two batches of at most 8 images and evaluates on at most 32, and a number of clusters
and the kNN's neighbours are capped at the 8 a dry run's images can fill. The networks, the resolution, the losses, the
optimiser and every other setting stay the profile's: a dry run goes through the code a full run
goes through, in seconds to minutes on a CPU.
"""
from __future__ import annotations

import math
from typing import Any

from ssllib.engine.params import Param

BUDGETS = ("full", "tiny")
BUDGET_PARAM = Param("budget", str, "full: the profile's own budget; tiny: a dry run of the same recipe (one epoch "
                     "of two batches of at most 8 images, every warm-up and milestone scaled with the epochs, "
                     "evaluations on at most 32 images)", choices=BUDGETS, nullable=True)

# Each total and the epoch-valued settings counted in it (a total of None is counted in ``epochs``).
COUNTED_IN = {
    "epochs": ("lr_warmup_epochs", "warmup_epochs", "cooldown_epochs", "cluster_warmup_epochs", "lr_milestones"),
    "transfer_epochs": ("transfer_milestones",),
    "teacher_epochs": (), "supervised_epochs": (), "mil_epochs": (), "student_epochs": (),
}
TINY_BATCH = 8           # the largest batch of a dry run (one per split of bn_splits=8)
TINY_BATCHES = 2         # training batches per epoch
TINY_EVALUATION = 32     # images in a kNN monitor or a picture
TINY = {                 # sizes of a dry run: each a cap on the profile's value (0 means "all": capped too)
    "monitor_size": TINY_EVALUATION, "picture_images": TINY_EVALUATION, "images_per_domain": 8,
    "bags_per_population": 8, "overhead_steps": 2, "overhead_rounds": 2, "log_every": 1, "monitor_every": 1,
    "heatmap_bags": 1, "num_clusters": 8, "ablation_clusters": 8,
    "knn_k": 8,          # neighbours: they must fit in a dry run's banks of 12 to 16 images
}


def _capped(value, cap: int):
    if isinstance(value, (tuple, list)):
        return type(value)(_capped(v, cap) for v in value)
    return cap if not value else type(value)(min(value, cap))


def _scaled(value: Any, factor: float) -> Any:
    """An epoch-valued setting scaled by ``factor``: whole epochs round down (a warm-up of 10 of
    200 epochs is none of one), milestones keep their fractions."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return type(value)(float(v) * factor for v in value)
    return math.floor(value * factor) if isinstance(value, int) else value * factor


def shrink(values: dict[str, Any], budget: str | None) -> dict[str, Any]:
    """The profile's ``values`` under ``budget`` (``None`` or ``"full"``: unchanged)."""
    if budget in (None, "full"):
        return dict(values)
    out = dict(values)
    for total, counted in COUNTED_IN.items():
        if out.get(total) is None:
            continue
        factor = 1 / out[total]
        out[total] = 1
        for name in counted:
            if name in out:
                out[name] = _scaled(out[name], factor)
    if "batch_size" in out:
        out["batch_size"] = min(out["batch_size"], TINY_BATCH)
        if "train_subset" in out:
            out["train_subset"] = _capped(out["train_subset"], TINY_BATCHES * out["batch_size"])
    for name, cap in TINY.items():
        if name in out and out[name] is not None:
            out[name] = _capped(out[name], cap)
    return out


def schedule_conflicts(settings: dict[str, Any]) -> list[str]:
    """Every epoch-valued setting that does not fit the total it is counted in: a warm-up that
    leaves no epoch after it, a milestone the run never reaches (so the rate never decays there).
    One sentence each; empty when the schedule fits."""
    problems = []
    for total, counted in COUNTED_IN.items():
        epochs = settings.get(total) if settings.get(total) is not None else settings.get("epochs")
        if epochs is None:
            continue
        for name in counted:
            value = settings.get(name)
            if value is None or name not in settings:
                continue
            if isinstance(value, (tuple, list)):
                late = [float(v) for v in value if float(v) >= epochs]
                if late:
                    problems.append(f"{name}={[float(v) for v in value]} holds {', '.join(f'{v:g}' for v in late)}, "
                                    f"not before the last of {total}={epochs}, so the rate never drops there; "
                                    f"scale the milestones with the epochs (or pass budget='tiny', which does)")
            elif name == "cooldown_epochs":
                if value > epochs:
                    problems.append(f"cooldown_epochs={value} is after the last of {total}={epochs}; use at most "
                                    f"{epochs}")
            elif value >= epochs:
                problems.append(f"{name}={value} leaves no epoch after it in {total}={epochs}; use fewer than "
                                f"{epochs}")
    return problems
