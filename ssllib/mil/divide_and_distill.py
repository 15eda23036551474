"""The whole Divide-and-Distill recipe on one fold: the base model, the partition of the
training slides, one expert per part, and the student distilled from all of them.

Every expert is validated on the fold's *whole* validation set (as the reference does); the
student starts from the base model's weights (or at random) and is the only model used at
inference, so its cost there is the base model's, while training costs K + 2 models. Every model
predicts on the device it was trained on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ssllib.engine.runs import Result
from ssllib.mil.bags import Bags
from ssllib.mil.config import MILConfig
from ssllib.mil.dnd import partition
from ssllib.mil.trainer import bag_outputs, predict_bags, train_mil


@dataclass
class DnDResult:
    base: Result
    experts: list[Result]
    student: Result
    clusters: torch.Tensor                      # (training slides,) the part of each
    seconds: dict = field(default_factory=dict)  # training time of each stage, from the records


def divide_and_distill(base_cfg: MILConfig, student_cfg: MILConfig, train: Bags, val: Bags, test: Bags, k: int,
                       partition_method: str = "kmeans", cluster_on: str = "logits", profile: str = "",
                       label: str = "", **run_kwargs) -> DnDResult:
    """Base model → k-means on its logits (or embeddings) of the training slides → K experts
    (same recipe as the base, on their part only) → the student (``student_cfg``, method
    ``dnd``) against the base model and every expert."""
    if not 1 <= k <= len(train):
        raise ValueError(f"K={k} experts for {len(train)} training slides: K must be from 1 to the number of "
                         f"training slides")
    base = train_mil(base_cfg.replace(role="base"), train, val, test, profile=profile, label=f"{label} base",
                     **run_kwargs)
    points = bag_outputs(base, train, "logits" if cluster_on == "logits" else "embedding")
    clusters = partition(points, k, base_cfg.seed, partition_method, train.labels)
    experts = []
    for part in range(k):
        members = torch.nonzero(clusters == part).flatten()
        experts.append(train_mil(base_cfg.replace(role="expert", data=f"{base_cfg.data}|cluster {part} of {k}"),
                                 train.subset(members), val, test, profile=profile,
                                 label=f"{label} expert {part + 1}/{k}", **run_kwargs))
    start = base if student_cfg.options["student_init"] == "base" else None
    student = train_mil(student_cfg.replace(role="student"), train, val, test, start_from=start,
                        teachers=[base, *experts], profile=profile, label=f"{label} student", **run_kwargs)
    seconds = {"base": base.record["wall_time_s"], "experts": sum(e.record["wall_time_s"] for e in experts),
               "student": student.record["wall_time_s"]}
    return DnDResult(base, experts, student, clusters, seconds)


def inference_seconds(result: Result, bags: Bags, repeats: int = 3) -> float:
    """Seconds to predict every bag of ``bags`` with the run's model (the best of ``repeats``,
    after one untimed call that warms the kernels up), on its device; measured once and kept
    with the run."""
    def measure() -> float:
        net = result.model.net
        predict_bags(net, bags)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            predict_bags(net, bags)
            best = min(best, time.perf_counter() - t0)
        return best
    return result.derived("inference-seconds", measure, key={"bags": bags.setting_key, "repeats": repeats})
