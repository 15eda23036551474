"""Clusters of unit vectors and the two clustering losses of CueCo, as pure functions.

Spherical k-means runs on the training device, all points at once: each iteration is one
matrix product (points × centroids), an argmax and a scatter-add. Cluster quality against
known labels (purity, normalised mutual information) is measured here too, for monitoring: the
labels never reach a loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def spherical_kmeans(x: torch.Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster the rows of ``x`` (N, D) into ``k`` groups by cosine similarity.

    Centroids start by k-means++ seeding on the sphere (the first a uniformly drawn point, each
    next one drawn with probability ∝ its distance 1 − max_c x·c to the centroids so far), then
    ``iters`` rounds of

        a_i = argmax_j x_i·c_j,        c_j = normalise(Σ_{i: a_i = j} x_i),

    an empty cluster keeping its previous centroid. Returns (centroids (k, D), unit rows;
    assignments (N,), long). Deterministic for a given ``generator``, which must live on
    ``x``'s device (``torch.Generator(device=x.device)``): every draw is made there and nothing
    is read back to the host, so on a GPU the whole fit is queued without a synchronisation."""
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"cannot make {k} clusters of {n} points; use 1 ≤ k ≤ {n}")
    x = F.normalize(x.float(), dim=1)
    first = torch.randint(n, (1,), generator=generator, device=x.device)
    centroids = x.index_select(0, first)
    closest = 1 - x @ centroids[0]                                        # (N,) distance to the nearest centroid
    for _ in range(1, k):
        # A tiny floor keeps the weights valid when every point already is a centroid (then
        # the draw is uniform) without a host-side test of their sum.
        weights = closest.clamp_min(0) + 1e-12
        pick = torch.multinomial(weights, 1, generator=generator)
        chosen = x.index_select(0, pick)
        centroids = torch.cat([centroids, chosen])
        closest = torch.minimum(closest, 1 - x @ chosen[0])
    assignments = (x @ centroids.T).argmax(dim=1)
    for _ in range(iters):
        sums = torch.zeros_like(centroids).index_add_(0, assignments, x)
        filled = sums.norm(dim=1) > 0
        centroids = torch.where(filled[:, None], F.normalize(sums, dim=1), centroids)
        assignments = (x @ centroids.T).argmax(dim=1)
    return centroids, assignments


def assign(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """The nearest centroid (by cosine similarity) of each row of ``x``: (N,) long."""
    return (F.normalize(x.float(), dim=1) @ centroids.float().T).argmax(dim=1)


def proto_loss(q: torch.Tensor, centroids: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each query's softmax over the centroids against its key's cluster:

        L_proto = −(1/N) Σ_i log [ exp(q_i·c_{a(k_i)} / T_c) / Σ_j exp(q_i·c_j / T_c) ].

    q: (N, D) unit queries (with gradient); centroids: (C, D) unit, fixed; targets: (N,) the
    clusters a(k_i) of the queries' keys."""
    logits = q.float() @ centroids.float().T / temperature
    return F.cross_entropy(logits, targets)


def align_loss(q: torch.Tensor, centroids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cosine alignment of each query to its key's centroid:

        L_align = (1/N) Σ_i (1 − q_i·c_{a(k_i)}),

    0 when every query sits on its key's centroid, at most 2."""
    return (1 - (q.float() * centroids.float()[targets]).sum(dim=1)).mean()


def contingency(assignments: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Counts n[c, y] of points in cluster c with label y (rows: clusters, columns: labels);
    points with a negative label are left out."""
    keep = labels >= 0
    a, y = assignments[keep].long(), labels[keep].long()
    clusters, classes = int(a.max()) + 1 if len(a) else 1, int(y.max()) + 1 if len(y) else 1
    counts = torch.zeros(clusters * classes, device=a.device, dtype=torch.float64)
    counts.index_add_(0, a * classes + y, torch.ones_like(a, dtype=torch.float64))
    return counts.view(clusters, classes)


def purity(assignments: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of points whose cluster's most common label is their own: (1/N) Σ_c max_y n[c, y]."""
    n = contingency(assignments, labels)
    return float(n.max(dim=1).values.sum() / n.sum()) if n.sum() > 0 else float("nan")


def normalised_mutual_information(assignments: torch.Tensor, labels: torch.Tensor) -> float:
    """I(A; Y) / ((H(A) + H(Y)) / 2), from the contingency table (natural logs; the arithmetic
    normalisation, scikit-learn's default). 1 when clusters and labels determine each other; 0
    when they are independent."""
    n = contingency(assignments, labels)
    total = n.sum()
    if total == 0:
        return float("nan")
    p = n / total
    pa, py = p.sum(1, keepdim=True), p.sum(0, keepdim=True)
    nz = p > 0
    mutual = (p[nz] * (p[nz] / (pa @ py)[nz]).log()).sum()
    entropy_a = -(pa[pa > 0] * pa[pa > 0].log()).sum()
    entropy_y = -(py[py > 0] * py[py > 0].log()).sum()
    denominator = (entropy_a + entropy_y) / 2
    return float(mutual / denominator) if denominator > 0 else 1.0
