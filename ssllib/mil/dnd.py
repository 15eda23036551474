"""Divide-and-Distill: partition the training slides, train one expert per part, distil the base
model and the experts into one student (from the authors' code).

With p_T(z) = softmax(z / T) and the student's logits s, the base model's b and expert k's e_k,
all on the same slide with label y,

    L = w_ce · CE(s, y) + w_base · T² · KL(p_T(b) ‖ p_T(s)) + w_exp · T² · (1/K) Σ_k KL(p_T(e_k) ‖ p_T(s)),

KL averaged over the batch (PyTorch's ``batchmean``); T = 0.2 and every weight 1 by default.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method

PARTITIONS = ("kmeans", "size_constrained", "fairlets")


def soft_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(p_T(teacher) ‖ p_T(student)), mean over the batch."""
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), F.softmax(teacher_logits / temperature, dim=1),
                    reduction="batchmean")


def dnd_loss(student_logits: torch.Tensor, labels: torch.Tensor, base_logits: torch.Tensor,
             expert_logits: torch.Tensor, temperature: float = 0.2, ce_weight: float = 1.0, base_weight: float = 1.0,
             expert_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The student's loss (above); ``expert_logits`` (K, B, C). Returns (loss, its parts)."""
    ce = F.cross_entropy(student_logits, labels)
    t2 = temperature ** 2
    base = soft_kl(base_logits, student_logits, temperature)
    experts = torch.stack([soft_kl(e, student_logits, temperature) for e in expert_logits]).mean()
    loss = ce_weight * ce + base_weight * t2 * base + expert_weight * t2 * experts
    return loss, {"loss": loss.detach(), "ce": ce.detach(), "kl_base": base.detach(), "kl_experts": experts.detach()}


def partition(points: torch.Tensor, k: int, seed: int = 0, method: str = "kmeans",
              labels: torch.Tensor | None = None) -> torch.Tensor:
    """A cluster index (0 … k−1) for every training slide from its ``points`` (N, D): the base
    model's logits (the reference) or its embeddings.

    - ``kmeans``: scikit-learn's k-means (``random_state`` = seed, 10 starts);
    - ``size_constrained``: every cluster holds N/K ± N/20 slides (``k-means-constrained``);
    - ``fairlets``: each class's slides, ordered along the points' first principal axis, are cut
      into F = (smallest class count) consecutive groups; fairlet f takes group f of every class,
      so each has the classes in the data's proportions; k-means clusters the fairlets' mean
      points and every slide joins its fairlet's cluster. The authors' code (``utils/fairlets.py``
      of MariosPapadopoulos/DnD_MIL) fills each fairlet with a fixed count per class in the order
      of the slides' indices and clusters the fairlets' mean logits; the order along the principal
      axis, which puts neighbouring slides in one fairlet, is ours."""
    x = points.detach().double().cpu().numpy()
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"K={k} clusters of {n} training slides: K must be from 1 to the number of training slides")
    if method == "kmeans":
        from sklearn.cluster import KMeans
        return torch.from_numpy(KMeans(k, n_init=10, random_state=seed).fit_predict(x)).long()
    if method == "size_constrained":
        from k_means_constrained import KMeansConstrained
        slack = n // 20
        model = KMeansConstrained(n_clusters=k, size_min=max(1, n // k - slack), size_max=-(-n // k) + slack,
                                  random_state=seed)
        return torch.from_numpy(model.fit_predict(x)).long()
    if method == "fairlets":
        if labels is None:
            raise ValueError("the fairlet partition needs the slides' labels")
        return _fairlet_partition(x, labels.cpu().numpy(), k, seed)
    raise ValueError(f"unknown partition {method!r}; choose one of {', '.join(PARTITIONS)}")


def _fairlet_partition(x: np.ndarray, labels: np.ndarray, k: int, seed: int) -> torch.Tensor:
    from sklearn.cluster import KMeans

    classes = np.unique(labels)
    fairlets = min(int((labels == c).sum()) for c in classes)
    if fairlets < k:
        raise ValueError(f"K={k} clusters but only {fairlets} fairlets (the smallest class has {fairlets} training "
                         f"slides); use K ≤ {fairlets} or another partition")
    centred = x - x.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0] if len(x) > 1 else np.ones(x.shape[1])
    member = np.empty(len(x), dtype=int)
    for c in classes:
        idx = np.flatnonzero(labels == c)
        ordered = idx[np.argsort(centred[idx] @ axis, kind="stable")]
        for f, group in enumerate(np.array_split(ordered, fairlets)):
            member[group] = f
    centres = np.stack([x[member == f].mean(0) for f in range(fairlets)])
    cluster_of = KMeans(k, n_init=10, random_state=seed).fit_predict(centres)
    return torch.from_numpy(cluster_of[member]).long()


OPTIONS = {
    "aggregator": (Param("aggregator", str, "the MIL model the student is (one of the family's aggregators)"), "abmil"),
    "temperature": (Param("temperature", float, "T of the softened distributions", min=1e-3), 0.2),
    "ce_weight": (Param("ce_weight", float, "weight of the student's cross-entropy", min=0.0), 1.0),
    "base_weight": (Param("base_weight", float, "weight of the KL to the base model", min=0.0), 1.0),
    "expert_weight": (Param("expert_weight", float, "weight of the mean KL to the experts", min=0.0), 1.0),
    "student_init": (Param("student_init", str, "the student starts from the base model's weights, or at random",
                           choices=("base", "random")), "base"),
}


def check(cfg) -> None:
    from ssllib.mil.models import aggregators

    if cfg.options["aggregator"] not in aggregators():
        raise ParameterError(f"aggregator={cfg.options['aggregator']!r} is not a MIL aggregator; choose one of "
                             f"{', '.join(aggregators())}")


def build_student(in_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.25, aggregator: str = "abmil"):
    from ssllib.mil.models import build_mil_model

    return build_mil_model(aggregator, in_dim, num_classes, hidden, dropout)


register_method(Method("dnd", "mil", build_student, title="D&D", options=OPTIONS, check=check,
                       help="the Divide-and-Distill student: its aggregator trained against the base model and the "
                            "experts", code=("ssllib.mil.dnd",)))
