"""SynCo (Giakoumoglou & Stathaki 2024) and MoCHI (Kalantidis et al. 2020): MoCo-v2 whose
negatives are extended, per query, by synthetic vectors built from its hardest queue entries.

MoCHI is the same method restricted to types 1 and 3: it is declared here with the other
counts fixed at 0.
"""
from __future__ import annotations

from typing import Any

import torch

from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method
from ssllib.selfsup.build import momentum_builder
from ssllib.selfsup.losses import contrastive_logits, info_nce
from ssllib.selfsup.momentum import MomentumMethod, check_queue
from ssllib.selfsup.synthetic_negatives import TYPES, SyntheticSettings, draw_all, logits_from_draws


class SynCo(MomentumMethod):
    def __init__(self, *args, n_hard: int = 1024, n1: int = 256, n2: int = 256, n3: int = 256, n4: int = 64,
                 n5: int = 64, n6: int = 64, sigma: float = 0.01, delta: float = 0.01, eta: float = 0.01,
                 warmup_epochs: int = 10, cooldown_epochs: int | None = None, finite_difference: bool = False,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.synthetic = SyntheticSettings((n1, n2, n3, n4, n5, n6), n_hard, sigma, delta, eta, finite_difference)
        self.warmup_epochs, self.cooldown_epochs = warmup_epochs, cooldown_epochs

    def synthetic_active(self, epoch: int) -> bool:
        """Synthetic negatives from epoch ``warmup_epochs`` to epoch ``cooldown_epochs`` inclusive
        (0-indexed, as in the references; no end when ``cooldown_epochs`` is None): epochs
        0 … warmup_epochs − 1, and any after the cooldown, are the plain contrastive loss."""
        closed = self.cooldown_epochs is not None and epoch > self.cooldown_epochs
        return epoch >= self.warmup_epochs and not closed and self.synthetic.total > 0

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


# ------------------------------------------------------------------ declarations

_COUNT = "synthetic negatives per query of type {} ({})"

SYNCO_OPTIONS: dict[str, tuple[Param, Any]] = {
    "n_hard": (Param("n_hard", int, "size of each query's hard set: its most similar queue entries", min=1), 1024),
    "n1": (Param("n1", int, _COUNT.format(1, "interpolation towards the query"), min=0), 256),
    "n2": (Param("n2", int, _COUNT.format(2, "extrapolation past the negative"), min=0), 256),
    "n3": (Param("n3", int, _COUNT.format(3, "mixup of two hard negatives"), min=0), 256),
    "n4": (Param("n4", int, _COUNT.format(4, "Gaussian noise"), min=0), 64),
    "n5": (Param("n5", int, _COUNT.format(5, "gradient step towards the query"), min=0), 64),
    "n6": (Param("n6", int, _COUNT.format(6, "FGSM-like signed step"), min=0), 64),
    "sigma": (Param("sigma", float, "σ: standard deviation of the noise of type 4", min=0.0), 0.01),
    "delta": (Param("delta", float, "δ: step size of the gradient perturbation of type 5", min=0.0), 0.01),
    "eta": (Param("eta", float, "η: step size of the adversarial perturbation of type 6", min=0.0), 0.01),
    "warmup_epochs": (Param("warmup_epochs", int, "epochs of plain MoCo-v2 before synthetic negatives start",
                            min=0), 10),
    "finite_difference": (Param("finite_difference", bool, "types 5 and 6 as the pre-October-2024 reference "
                                "computed them (a finite-difference gradient; near-copies of hard negatives)"),
                          False),
}

# MoCHI (Kalantidis et al. 2020) is SynCo restricted to types 1 and 3: MoCHI(N, s, s') = (n_hard, n3, n1).
MOCHI_OPTIONS: dict[str, tuple[Param, Any]] = {
    "n_hard": (SYNCO_OPTIONS["n_hard"][0], 1024),
    "n1": (SYNCO_OPTIONS["n1"][0], 128),
    "n3": (SYNCO_OPTIONS["n3"][0], 1024),
    "warmup_epochs": SYNCO_OPTIONS["warmup_epochs"],
}
MOCHI_FIXED = {"n2": 0, "n4": 0, "n5": 0, "n6": 0}


def check_synthetic(cfg) -> None:
    """The queue holds a batch, some epoch has synthetic negatives, the hard set fits the queue."""
    check_queue(cfg)
    warmup, n_hard = cfg.options["warmup_epochs"], cfg.options["n_hard"]
    if warmup >= cfg.epochs:
        raise ParameterError(f"warmup_epochs={warmup} leaves no epoch with synthetic negatives; "
                             f"use fewer than epochs={cfg.epochs}")
    if n_hard > cfg.queue_size:
        raise ParameterError(f"n_hard={n_hard} is larger than the queue (queue_size={cfg.queue_size}); "
                             f"a hard set is drawn from the queue, so use n_hard ≤ {cfg.queue_size}")


CODE = ("ssllib.selfsup.synco", "ssllib.selfsup.synthetic_negatives")
register_method(Method("synco", "selfsup", momentum_builder(SynCo), title="SynCo", options=SYNCO_OPTIONS,
                       help="MoCo-v2 with six kinds of synthetic hard negatives per query", check=check_synthetic,
                       code=CODE))
register_method(Method("mochi", "selfsup", momentum_builder(SynCo, **MOCHI_FIXED), title="MoCHI",
                       options=MOCHI_OPTIONS, fixed=MOCHI_FIXED, check=check_synthetic, code=CODE,
                       help="MoCo-v2 with MoCHI's mixes of hard negatives (SynCo's types 1 and 3)"))
