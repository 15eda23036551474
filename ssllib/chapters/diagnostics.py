"""Checks a chapter can show: does the batched augmentation draw what torchvision draws? How
hard are the negatives a contrastive method trains against?"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssllib.data.augment import sample_crop_boxes
from ssllib.engine.identity import state_digest


def crop_statistics(n: int, height: int, width: int, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), seed: int = 0):
    """Area fraction, aspect ratio and centre of ``n`` crop boxes from ssllib's batched sampler
    and from torchvision's ``RandomResizedCrop.get_params``, with two-sample KS p-values."""
    from scipy.stats import ks_2samp
    from torchvision.transforms import v2 as T

    top, left, h, w = (t.double().numpy() for t in sample_crop_boxes(n, height, width, scale, ratio,
                                                             torch.Generator().manual_seed(seed)))
    torch.manual_seed(seed + 1)
    image = torch.zeros(1, height, width)
    boxes = np.array([T.RandomResizedCrop.get_params(image, list(scale), list(ratio)) for _ in range(n)], dtype=float)
    t_top, t_left, t_h, t_w = boxes.T

    def describe(top, left, h, w):
        return {"area fraction": h * w / (height * width), "aspect ratio (w/h)": w / h,
                "centre x / width": (left + w / 2) / width}

    ours, theirs = describe(top, left, h, w), describe(t_top, t_left, t_h, t_w)
    pvalues = {k: ks_2samp(ours[k], theirs[k]).pvalue for k in ours}
    return ours, theirs, pvalues


@torch.no_grad()
def negative_similarities(model, images: torch.Tensor, generator: torch.Generator | None = None
                          ) -> dict[str, torch.Tensor]:
    """How hard each kind of negative is: cosine similarities q·n between the queries of one
    augmented view of ``images`` (uint8 batch) and the whole queue, each query's hard set, and
    every synthetic type of a SynCo/MoCHI ``model``. The encoder runs in evaluation mode.
    Returns ``{name: 1-D tensor of similarities}`` on the CPU."""
    from ssllib.selfsup.synthetic_negatives import hard_set, synthesize

    was_training = model.training
    model.eval()
    q = F.normalize(model.encoder(model.views[0](images, generator)).float(), dim=1)  # (N, D)
    queue = model.queue.keys.float()                                                # (K, D)
    similarities = q @ queue.t()                                                     # (N, K)
    out = {"whole queue": similarities.flatten(),
           "hard set": similarities.gather(1, hard_set(q, queue, model.synthetic.n_hard)).flatten()}
    for name, vectors in synthesize(q, queue, model.synthetic, generator).items():
        out[name] = (vectors @ q.unsqueeze(-1)).flatten()
    model.train(was_training)
    return {name: values.cpu() for name, values in out.items()}


def similarity_summary(samples: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """Per kind of negative: the mean and the 1st, 25th, 50th, 75th and 99th percentiles of its
    similarities (what the chapter's table and box plot show)."""
    out = {}
    for name, values in samples.items():
        v = values.double()
        q = torch.quantile(v, torch.tensor([0.01, 0.25, 0.5, 0.75, 0.99], dtype=torch.float64)).tolist()
        out[name] = {"mean": v.mean().item(), "q01": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q99": q[4],
                     "n": len(v)}
    return out


def negative_similarity_summary(run, images: torch.Tensor, seed: int = 0) -> dict[str, dict[str, float]]:
    """:func:`similarity_summary` of :func:`negative_similarities` for a trained SynCo/MoCHI run
    on uint8 ``images`` (one augmented view drawn from ``seed``), kept with the run."""
    def compute():
        model = run.model
        device = next(model.parameters()).device
        return similarity_summary(negative_similarities(model, images.to(device), torch.Generator().manual_seed(seed)))
    return run.derived("negative-similarities", compute, key={"images": state_digest(images)[:12], "seed": seed})
