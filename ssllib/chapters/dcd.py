"""The DCD chapter: the RRD chapter's students plus DCD and DCD+KD, and a transfer probe."""
from __future__ import annotations

from ssllib.chapters import rrd
from ssllib.chapters.distill_experiments import check_transfer
from ssllib.chapters.spec import ChapterSpec, derive, option_params
from ssllib.engine.params import Param

TRANSFER_PARAMS = {
    "transfer_dataset": Param("transfer_dataset", str, "dataset of the transfer probe (a new linear classifier on "
                              "the frozen student)", choices=("digits", "stl10", "tiny_imagenet", "cifar10")),
    "transfer_epochs": Param("transfer_epochs", int, "epochs of the transfer probe", min=1),
    "transfer_milestones": Param("transfer_milestones", tuple, "epochs after which the probe's learning rate is "
                                 "multiplied by 0.1", min=0.0),
    "unclamped_max_scale": Param("unclamped_max_scale", float, "κ_max of a second set of DCD runs that tests the "
                                 "clamp on the learnt scale (None: no such runs)", min=1.0, nullable=True),
}

# The benchmark's recipe with the pair of the transfer test, then DCD's 120-epoch probe on STL-10.
PAPER = derive(rrd.PAPER, teacher="wrn_40_2", student="wrn_16_2") | dict(
    dcd_alpha=0.5, dcd_max_scale=10.0, transfer_dataset="stl10", transfer_epochs=120,
    transfer_milestones=(30.0, 60.0, 90.0), unclamped_max_scale=None)
# The RRD chapter's CPU recipe, then a 30-epoch probe on scikit-learn's digits (16 px).
# The clamp study raises κ_max to 10⁶, beyond any κ a run reaches.
CPU = derive(derive(PAPER, **rrd.CPU), transfer_dataset="digits", transfer_epochs=30,
             transfer_milestones=(7.5, 15.0, 22.5), unclamped_max_scale=1e6)
SMOKE = derive(derive(CPU, **rrd.SMOKE), transfer_epochs=2, transfer_milestones=(1.0,))

DCD = ChapterSpec(
    name="dcd",
    params={**rrd.RRD.params, **option_params("dcd"), **TRANSFER_PARAMS},
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    notes={
        "smoke": rrd.RRD.notes["smoke"],
        "cpu": rrd.RRD.notes["cpu"] + "; the students then transfer to scikit-learn's digits (16 px) with a 30-epoch "
               "linear probe",
        "paper": "the CIFAR-100 benchmark recipe with wrn_40_2→wrn_16_2 (the pair of the transfer test), then a "
                 "120-epoch linear probe on STL-10 at 32 px (or Tiny ImageNet: -p transfer_dataset tiny_imagenet)",
    },
    family="distillation",
    methods=("ce", "kd", "crd", "rrd", "dcd", "dcd_kd"),
    checks=(check_transfer,),
)
