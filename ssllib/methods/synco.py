"""SynCo (Giakoumoglou & Stathaki 2024) and MoCHI (Kalantidis et al. 2020): MoCo-v2 whose
negatives are extended, per query, by synthetic vectors built from its hardest queue entries.

MoCHI is the same method restricted to types 1 and 3; the registry builds it with the other
counts fixed at 0.
"""
from __future__ import annotations

import torch

from ..losses import contrastive_logits, info_nce
from ..momentum import MomentumMethod
from ..synthetic_negatives import TYPES, SyntheticSettings, draw_all, logits_from_draws


class SynCo(MomentumMethod):
    def __init__(self, *args, n_hard: int = 1024, n1: int = 256, n2: int = 256, n3: int = 256, n4: int = 64,
                 n5: int = 64, n6: int = 64, sigma: float = 0.01, delta: float = 0.01, eta: float = 0.01,
                 warmup_epochs: int = 10, finite_difference: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.synthetic = SyntheticSettings((n1, n2, n3, n4, n5, n6), n_hard, sigma, delta, eta, finite_difference)
        self.warmup_epochs = warmup_epochs

    def synthetic_active(self, epoch: int) -> bool:
        """Epochs 0 … warmup_epochs − 1 are plain MoCo-v2 (0-indexed, as in the reference)."""
        return epoch >= self.warmup_epochs and self.synthetic.total > 0

    def contrastive_loss(self, q, k, queue, epoch, generator=None):
        with torch.autocast(q.device.type, enabled=False):
            q, queue = q.float(), queue.float()
            logits = contrastive_logits(q, k.float(), queue)                          # (N, 1 + K)
            if self.synthetic_active(epoch):
                draws = draw_all(q.detach(), queue, self.synthetic, generator, similarities=logits[:, 1:])
                synthetic = logits_from_draws(q, logits[:, 1:], queue, draws, self.synthetic)
                logits = torch.cat([logits, synthetic], dim=1)                        # (N, 1 + K + Σn_t)
            loss = info_nce(logits, self.temperature)
        return loss, logits, negative_weight_shares(logits.detach(), self.temperature, queue.shape[0],
                                                    self.synthetic.counts)


def negative_weight_shares(logits: torch.Tensor, temperature: float, queue_size: int,
                           counts: tuple[int, ...], rows: int = 32) -> dict[str, torch.Tensor]:
    """Of the softmax weight the loss puts on negatives, the share on each synthetic type and
    on all of them together, averaged over the first ``rows`` queries of the batch (an unbiased
    estimate of the batch mean that keeps this monitor cheap). Columns after 1 + K are
    synthetic, in type order."""
    p = torch.softmax(logits[:rows, 1:].float() / temperature, dim=1)                # over the negatives
    shares, start = {}, queue_size
    active = logits.shape[1] > 1 + queue_size
    for name, count in zip(TYPES, counts):
        if count:
            width = count if active else 0
            shares[f"share_{name}"] = p[:, start:start + width].sum(dim=1).mean()
            start += width
    shares["synthetic_share"] = p[:, queue_size:].sum(dim=1).mean()
    return shares
