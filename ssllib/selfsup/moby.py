"""MoBY (Xie et al. 2021) and MoBY with SynCo's synthetic hard negatives (Giakoumoglou &
Stathaki, the ViT paper): the symmetric momentum method the authors trained DeiT-S and Swin-T
with.

MoBY is MoCo-v2's loss on a BYOL-shaped network: the online branch is encoder → projector →
predictor, the target branch a momentum copy of encoder → projector (no predictor), both
normalised; the two views are queries and keys in turn, each with its own queue, and the two
directions' losses are summed (:class:`~ssllib.selfsup.momentum.MomentumMethod` with
``symmetric``). Projector and predictor are Linear → BN → ReLU → Linear
(:func:`~ssllib.nets.heads.bn_mlp_head`). The momentum rises from 0.99 to 1 on a half cosine
per optimisation step, the online encoder alone has drop-path, and the views are BYOL's
(blur always in view 1, rarely in view 2, solarisation in view 2 only): those are run
settings (``ema_momentum``, ``momentum_schedule``, ``drop_path``, ``blur_p``, ``view2_*``),
which the ViT chapter and ``papers/synco-vit/paper.yaml`` set to the paper's values.

The second method reuses SynCo's loss unchanged inside each direction: the synthetic
negatives of a term come from that term's queue and query (the predictor's normalised
output), and they are used only inside the window of epochs ``warmup_epochs`` …
``cooldown_epochs`` (0-indexed, inclusive; :meth:`SynCo.synthetic_active`).
"""
from __future__ import annotations

from typing import Any

from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method
from ssllib.selfsup.build import moby_builder
from ssllib.selfsup.momentum import check_queue
from ssllib.selfsup.mocov2 import MoCoV2
from ssllib.selfsup.synco import SYNCO_OPTIONS, SynCo, check_synthetic

HEAD_OPTIONS: dict[str, tuple[Param, Any]] = {
    "head_hidden_dim": (Param("head_hidden_dim", int, "hidden width of the projector and the predictor (BN MLPs; "
                              "4096 in the paper)", min=1), 4096),
}

# The values in force in the authors' ViT code (giakoumoglou/synco-v2), not SynCo's ResNet ones.
_VIT_VALUES = {"n_hard": 256, "n1": 128, "n2": 128, "n3": 128, "n4": 64, "n5": 64, "n6": 64,
               "sigma": 0.1, "delta": 0.01, "eta": 0.01, "warmup_epochs": 30}
MOBY_SYNCO_OPTIONS: dict[str, tuple[Param, Any]] = {
    **HEAD_OPTIONS,
    **{name: (param, _VIT_VALUES.get(name, default)) for name, (param, default) in SYNCO_OPTIONS.items()},
    "cooldown_epochs": (Param("cooldown_epochs", int, "last epoch (0-indexed, inclusive) with synthetic negatives; "
                              "the window is warmup_epochs … cooldown_epochs", min=0), 100),
}


def check_window(cfg) -> None:
    """SynCo's checks, and a window that opens before it closes."""
    check_synthetic(cfg)
    warmup, cooldown = cfg.options["warmup_epochs"], cfg.options["cooldown_epochs"]
    if cooldown < warmup:
        raise ParameterError(f"cooldown_epochs={cooldown} closes the window of synthetic negatives before "
                             f"warmup_epochs={warmup} opens it, so they would never be used; use "
                             f"cooldown_epochs ≥ warmup_epochs")


CODE = ("ssllib.selfsup.moby", "ssllib.selfsup.mocov2")
register_method(Method("moby", "selfsup", moby_builder(MoCoV2), title="MoBY", options=HEAD_OPTIONS,
                       help="symmetric momentum contrast with a predictor and a queue per view (MoBY)",
                       check=check_queue, code=CODE))
register_method(Method("moby_synco", "selfsup", moby_builder(SynCo), title="MoBY + synthetic negatives",
                       options=MOBY_SYNCO_OPTIONS, check=check_window,
                       code=(*CODE, "ssllib.selfsup.synco", "ssllib.selfsup.synthetic_negatives"),
                       help="MoBY with SynCo's six kinds of synthetic hard negatives inside each loss term"))
