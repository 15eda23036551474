"""MoCo-v2 (Chen et al. 2020): InfoNCE of each query against its key and the queue."""
from __future__ import annotations

from ssllib.engine.registry import Method, register_method
from ssllib.selfsup.build import momentum_builder
from ssllib.selfsup.losses import contrastive_logits, info_nce
from ssllib.selfsup.momentum import MomentumMethod, check_queue


class MoCoV2(MomentumMethod):
    def contrastive_loss(self, q, k, queue, epoch, generator=None):
        logits = contrastive_logits(q, k, queue)  # (N, 1 + K)
        return info_nce(logits, self.temperature), logits, {}


register_method(Method("mocov2", "selfsup", momentum_builder(MoCoV2), title="MoCo-v2",
                       help="momentum contrast: InfoNCE against a queue of keys", check=check_queue,
                       code=("ssllib.selfsup.mocov2",)))
