"""The CueCo chapter's measurements of clusters: embeddings of the test images, how well a
k-means of them recovers the classes (purity, NMI) for any trained encoder, and a 2-D picture;
each kept with its run, so a re-execution reads them instead of needing the encoder's weights."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssllib.evaluate.frozen import extract_features
from ssllib.selfsup.clustering import assign, normalised_mutual_information, purity, spherical_kmeans

CLUSTER_SEED = 0


def key_embeddings(run, dataset, size: int) -> torch.Tensor:
    """Unit embeddings of every image of ``dataset`` by the run's key (momentum) encoder,
    backbone and projection head: the space CueCo's centroids live in."""
    return F.normalize(extract_features(run.model.momentum_encoder, dataset, size, num_workers=0), dim=1)


def cluster_quality(embeddings: torch.Tensor, labels: torch.Tensor, clusters: int, seed: int = CLUSTER_SEED) -> dict:
    """Purity and NMI against ``labels`` of a spherical k-means of ``embeddings`` into
    ``clusters`` groups (the same k-means, seed and rounds for every encoder)."""
    _, assignments = spherical_kmeans(embeddings, clusters, iters=20,
                                     generator=torch.Generator(device=embeddings.device).manual_seed(seed))
    labels = labels.to(assignments.device)
    return {"cluster purity": 100 * purity(assignments, labels),
            "cluster NMI": 100 * normalised_mutual_information(assignments, labels)}


def cluster_rows(label: str, runs, dataset, size: int, clusters: int) -> list[dict]:
    """One row per run: the purity and NMI (in %) of the k-means of its test-set embeddings."""
    rows = []
    for run in runs:
        quality = run.derived("cluster-quality", lambda run=run: cluster_quality(key_embeddings(run, dataset, size),
                                                                                   dataset.labels, clusters),
                              key={"dataset": [dataset.name, dataset.split, len(dataset)], "size": size,
                                   "clusters": clusters, "seed": CLUSTER_SEED})
        rows.append({"method": label, "seed": run.config.seed, **quality})
    return rows


def picture(run, dataset, size: int, images: int = 2000, seed: int = 0) -> dict:
    """A 2-D t-SNE of the key embeddings of the first ``images`` test images, with each one's
    cluster under the run's own centroids (its last refresh) and its class."""
    def compute() -> dict:
        from sklearn.manifold import TSNE

        embeddings = key_embeddings(run, dataset.subset(torch.arange(min(images, len(dataset)))), size)
        clusters = assign(embeddings, run.model.centroids.to(embeddings.device)).cpu().numpy()
        perplexity = min(30.0, len(embeddings) - 1.0)  # t-SNE needs fewer neighbours than points
        points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(
            embeddings.cpu().numpy())
        return {"points": points, "clusters": clusters, "classes": dataset.labels[:len(points)].cpu().numpy(),
                "class_names": list(dataset.classes)}
    return run.derived("cluster-picture", compute, key={"dataset": [dataset.name, dataset.split, len(dataset)],
                                                         "size": size, "images": images, "seed": seed})


def trace_of(histories: list[list[dict]], metric: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values over seeds) of a metric logged within epochs, kept only where the
    clustering term was on (``cluster_active``) and a refresh had measured it; the values are
    multiplied by ``scale`` (100 shows a 0-to-1 score in points, as the chapter's tables do)."""
    xs, values = None, []
    for history in histories:
        steps_per_epoch = history[0]["trace"][-1]["step"]
        points = [(t["step"] / steps_per_epoch, t[metric]) for h in history for t in h["trace"]
                  if t.get("cluster_active", 0) >= 1]
        if not points:
            return np.array([]), np.zeros((len(histories), 0))
        x, y = zip(*points)
        xs = np.asarray(x) if xs is None else xs
        values.append(np.asarray(y)[:len(xs)])
    length = min(len(v) for v in values)
    return xs[:length], scale * np.array([v[:length] for v in values])
