"""The SynCo chapter: MoCo-v2, MoCHI and SynCo on one recipe, the six types one at a time, the
step-time overhead."""
from __future__ import annotations

from ssllib.chapters import foundations
from ssllib.chapters.spec import FIRST_SEED, ChapterSpec, derive, option_params, overhead_params, run_params
from ssllib.engine.params import Param

_moco = foundations.moco_settings


# SynCo's ImageNet recipe: MoCo-v2's, the six types at the paper's counts from epoch 10.
PAPER = dict(_moco(foundations.PAPER), n_hard=1024, n1=256, n2=256, n3=256, n4=64, n5=64, n6=64, sigma=0.01,
             delta=0.01, eta=0.01, finite_difference=False, warmup_epochs=10, mochi_n_hard=1024, mochi_n3=1024,
             mochi_n1=128, seeds=1, first_seed=0, ablation=False, overhead_steps=10, overhead_rounds=16,
             log_every=50)
CIFAR = _moco(foundations.CIFAR)
# The foundations chapter's CPU recipe (its MoCo-v2 runs are this chapter's), synthetic negatives
# from the second of 15 epochs.
CPU = derive(derive(PAPER, **_moco(foundations.CPU)), warmup_epochs=1, seeds=3, ablation=True, overhead_steps=2,
             log_every=10)
# The foundations chapter's smoke changes, 2 epochs and few negatives.
SMOKE = derive(derive(CPU, **{k: v for k, v in _moco(foundations.SMOKE).items() if v != foundations.CPU[k]}),
               epochs=2, n_hard=64, n1=16, n2=16, n3=16, n4=4, n5=4, n6=4, mochi_n_hard=64, mochi_n3=16,
               mochi_n1=4, seeds=2, overhead_rounds=2, log_every=4)

SYNCO = ChapterSpec(
    name="synco",
    params={
        **run_params(*foundations.MOCO_RUN_FIELDS, "log_every"),
        **option_params("synco"),
        "mochi_n_hard": Param("mochi_n_hard", int, "MoCHI's N: size of each query's hard set", min=1),
        "mochi_n3": Param("mochi_n3", int, "MoCHI's s: mixes of two hard negatives per query", min=0),
        "mochi_n1": Param("mochi_n1", int, "MoCHI's s′: mixes of the query with a hard negative per query", min=0),
        "seeds": Param("seeds", int, "independent runs (from first_seed) of MoCo-v2, MoCHI and SynCo", min=1),
        "first_seed": FIRST_SEED,
        "ablation": Param("ablation", bool, "also train SynCo with each type alone (first seed only)"),
        **overhead_params("SynCo (and MoCHI)", "MoCo-v2"),
    },
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    overlays={"paper": {"cifar10": CIFAR, "cifar100": CIFAR}},
    notes={
        "smoke": "a tiny check that every cell runs (1,024 images, width-4 network, few negatives); "
                 "its numbers mean nothing",
        "cpu": "the foundations chapter's recipe (6,400 Fashion-MNIST images at 16×16 px, a width-8 ResNet-18, "
               "15 epochs) with synthetic negatives from the second epoch; the paper's counts (n_hard 1,024, "
               "3×256 + 3×64) against a queue of 4,096",
        "paper": "SynCo's ImageNet recipe: MoCo-v2's ResNet-50 200-epoch recipe, six types at the defaults from "
                 "epoch 10",
        **{f"paper/{d}": f"{foundations.CIFAR_PRESET}, synthetic negatives from epoch 10" for d in ("cifar10", "cifar100")},
    },
    methods=("mocov2", "mochi", "synco"),
)
