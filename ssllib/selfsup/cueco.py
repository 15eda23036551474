"""CueCo (Giakoumoglou & Stathaki, ICIP 2025): MoCo-v2's contrastive loss ("scatter") plus a
clustering term that pulls each query towards the centroid of its key's cluster ("align").

No code is public and the paper's method section is not available; this module is the book's
reading of its abstract and introduction, with each open choice a parameter:

    L = L_InfoNCE(q, k⁺, queue) + λ · L_cluster,

- the clusters: spherical k-means on the keys in the queue (``num_clusters`` centroids,
  ``kmeans_iters`` rounds), computed at the first step of the clustering phase and again every
  ``refresh_every`` steps; the clustering term is off for the first ``cluster_warmup_epochs``
  epochs (the queue holds the random vectors it starts with until it has filled once);
- each key's cluster a(k) is its nearest centroid; L_cluster is ``proto`` (cross-entropy of
  q·Cᵀ/T_c against a(k)) or ``align`` (1 − q·c_{a(k)}), see :mod:`ssllib.selfsup.clustering`.

With λ = 0 the step is MoCo-v2's, draw for draw: the clusters are not even computed. The
k-means draws come from their own generator, seeded by the step number, so they never move
the training's random stream. The true labels of the queued keys are kept beside the queue for
monitoring only: after each refresh the purity and normalised mutual information of the
clusters against them are logged (``cluster_purity``, ``cluster_nmi``); no loss sees them.
"""
from __future__ import annotations

from typing import Any

import torch

from ssllib.engine.distributed import gather_global
from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method
from ssllib.selfsup.build import momentum_builder
from ssllib.selfsup.clustering import (align_loss, assign, normalised_mutual_information, proto_loss, purity,
                                       spherical_kmeans)
from ssllib.selfsup.losses import contrastive_logits, info_nce
from ssllib.selfsup.momentum import MomentumMethod, check_queue

CLUSTER_LOSSES = ("proto", "align")
KMEANS_SEED = 0x5EED


class CueCo(MomentumMethod):
    def __init__(self, *args, cluster_loss: str = "proto", cluster_weight: float = 1.0,
                 cluster_temperature: float = 0.1, num_clusters: int = 100, refresh_every: int = 100,
                 cluster_warmup_epochs: int = 1, kmeans_iters: int = 10, **kwargs):
        super().__init__(*args, **kwargs)
        if cluster_loss not in CLUSTER_LOSSES:
            raise ValueError(f"unknown cluster_loss {cluster_loss!r}; choose one of {', '.join(CLUSTER_LOSSES)}")
        self.cluster_loss, self.cluster_weight = cluster_loss, cluster_weight
        self.cluster_temperature, self.num_clusters = cluster_temperature, num_clusters
        self.refresh_every, self.cluster_warmup_epochs, self.kmeans_iters = refresh_every, cluster_warmup_epochs, kmeans_iters
        dim = self.queue.keys.shape[1]
        # All state is in buffers, so a resumed run continues exactly where it stopped.
        self.register_buffer("centroids", torch.zeros(num_clusters, dim))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("last_refresh", torch.full((), -1, dtype=torch.long))
        self.register_buffer("queue_labels", torch.full((len(self.queue),), -1, dtype=torch.long))
        self.register_buffer("quality", torch.zeros(2))  # purity and NMI of the last refresh
        self._labels: torch.Tensor | None = None
        # The step counters are read every step; host copies of the two buffers spare a
        # device-to-host read each time. They are taken from the buffers once, lazily, and
        # dropped whenever a state dict is loaded (a resumed run).
        self._counters: list[int] | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: setattr(module, "_counters", None))

    def counters(self) -> list[int]:
        """[step, last_refresh] as Python ints (read from the buffers once after each load)."""
        if self._counters is None:
            self._counters = [int(self.step), int(self.last_refresh)]
        return self._counters

    def clustering_active(self, epoch: int) -> bool:
        return self.cluster_weight > 0 and epoch >= self.cluster_warmup_epochs

    def due_for_refresh(self) -> bool:
        """At the first step of the clustering phase, then every ``refresh_every`` steps."""
        step, last = self.counters()
        return last < 0 or step - last >= self.refresh_every

    @torch.no_grad()
    def refresh(self, queue: torch.Tensor) -> None:
        """Spherical k-means on the queue's keys; records the clusters' quality against the
        queued keys' labels (monitoring only). The fit itself is queued on the device without a
        read-back; the monitor reads its two numbers back, once per refresh."""
        counters = self.counters()
        generator = torch.Generator(device=queue.device).manual_seed(KMEANS_SEED + counters[0])
        centroids, assignments = spherical_kmeans(queue, self.num_clusters, self.kmeans_iters, generator)
        self.centroids.copy_(centroids)
        self.last_refresh.copy_(self.step)
        counters[1] = counters[0]
        labels = self.queue_labels
        if (labels >= 0).any():
            self.quality.copy_(torch.tensor([purity(assignments, labels),
                                             normalised_mutual_information(assignments, labels)]))

    def make_inputs(self, images, labels, generator=None):
        self._labels = labels
        return super().make_inputs(images, labels, generator)

    def contrastive_loss(self, q, k, queue, epoch, generator=None):
        logits = contrastive_logits(q, k, queue)              # MoCo-v2's loss, computed as MoCo-v2 computes it
        loss = info_nce(logits, self.temperature)
        cluster = torch.zeros((), device=q.device)
        active = self.clustering_active(epoch)
        if active:
            with torch.autocast(q.device.type, enabled=False):  # k-means and the cluster term in fp32
                if self.due_for_refresh():
                    self.refresh(queue.float())
                targets = assign(k, self.centroids)
                if self.cluster_loss == "proto":
                    cluster = proto_loss(q.float(), self.centroids, targets, self.cluster_temperature)
                else:
                    cluster = align_loss(q.float(), self.centroids, targets)
            loss = loss + self.cluster_weight * cluster
        extra = {"cluster_loss": cluster.detach(), "cluster_active": torch.tensor(float(active), device=q.device),
                 "cluster_purity": self.quality[0].clone(), "cluster_nmi": self.quality[1].clone()}
        return loss, logits, extra

    def forward(self, view_q, view_k, epoch=0, progress=0.0, generator=None):
        ptr = self.queue.ptr.clone()
        out = super().forward(view_q, view_k, epoch, progress, generator)
        if self._labels is not None:                          # the labels of the keys just enqueued
            labels = gather_global(self._labels.to(self.queue_labels.device))
            rows = (ptr + torch.arange(len(labels), device=labels.device)) % len(self.queue_labels)
            self.queue_labels[rows] = labels.long()
        self.step += 1
        self.counters()[0] += 1
        return out


# ------------------------------------------------------------------ declarations

CUECO_OPTIONS: dict[str, tuple[Param, Any]] = {
    "cluster_loss": (Param("cluster_loss", str, "form of the clustering term: proto (cross-entropy over the "
                           "centroids) or align (1 − cosine to the key's centroid)", choices=CLUSTER_LOSSES), "proto"),
    "cluster_weight": (Param("cluster_weight", float, "λ: weight of the clustering term (0: MoCo-v2)", min=0.0), 1.0),
    "cluster_temperature": (Param("cluster_temperature", float, "T_c: temperature of the proto form's softmax over "
                                  "centroids", min=1e-6), 0.1),
    "num_clusters": (Param("num_clusters", int, "number of k-means clusters (10× the classes by default; the paper's abstract gives none)",
                           min=1), 100),
    "refresh_every": (Param("refresh_every", int, "steps between two k-means refreshes of the centroids", min=1), 100),
    "cluster_warmup_epochs": (Param("cluster_warmup_epochs", int, "epochs of plain MoCo-v2 before the clustering "
                                    "term starts", min=0), 1),
    "kmeans_iters": (Param("kmeans_iters", int, "k-means rounds per refresh", min=1), 10),
}


def check_cueco(cfg) -> None:
    """The queue holds a batch; the k-means has enough keys; some epoch has the clustering term."""
    check_queue(cfg)
    options = cfg.options
    if options["num_clusters"] > cfg.queue_size:
        raise ParameterError(f"num_clusters={options['num_clusters']} is more than the {cfg.queue_size} queued keys "
                             f"the clusters are fitted on; use num_clusters ≤ queue_size")
    if options["cluster_weight"] > 0 and options["cluster_warmup_epochs"] >= cfg.epochs:
        raise ParameterError(f"cluster_warmup_epochs={options['cluster_warmup_epochs']} leaves no epoch with the "
                             f"clustering term; use fewer than epochs={cfg.epochs}")


register_method(Method("cueco", "selfsup", momentum_builder(CueCo), title="CueCo", options=CUECO_OPTIONS,
                       help="MoCo-v2 plus a clustering term towards the centroid of each key's k-means cluster",
                       check=check_cueco, code=("ssllib.selfsup.cueco", "ssllib.selfsup.clustering")))
