"""MoCo-v2 (Chen et al. 2020): InfoNCE of each query against its key and the queue."""
from __future__ import annotations


from ..losses import contrastive_logits, info_nce
from ..momentum import MomentumMethod


class MoCoV2(MomentumMethod):
    def contrastive_loss(self, q, k, queue, epoch, generator=None):
        logits = contrastive_logits(q, k, queue)  # (N, 1 + K)
        return info_nce(logits, self.temperature), logits, {}
