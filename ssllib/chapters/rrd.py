"""The RRD chapter: a teacher, the student alone, KD, CRD, RRD and RRD+KD over seeds."""
from __future__ import annotations

from ssllib.chapters.spec import FIRST_SEED, ChapterSpec, derive, distill_params, option_params
from ssllib.engine.params import Param

DISTILL_FIELDS = ("dataset", "data_root", "download", "train_subset", "validation_size", "image_size", "teacher",
                  "teacher_checkpoint", "teacher_epochs", "epochs", "batch_size", "lr", "lr_milestones", "weight_decay",
                  "kd_temperature", "embed_dim", "device", "log_every")

# The CIFAR-100 benchmark's recipe (CRD's code, as RRD and DCD use it): 240 epochs, batch 64,
# lr 0.05 ×0.1 at 150/180/210; the last epoch is reported, so nothing is held out.
PAPER = dict(dataset="cifar100", data_root=None, download=False, train_subset=0, validation_size=0, image_size=0,
             teacher="resnet32x4", student="resnet8x4", teacher_checkpoint=None, teacher_epochs=None, epochs=240, batch_size=64, lr=None,
             lr_milestones=(150.0, 180.0, 210.0), weight_decay=5e-4, kd_temperature=4.0, embed_dim=128,
             crd_negatives=16384, crd_temperature=0.07, crd_momentum=0.5, device="auto", log_every=50, seeds=1, first_seed=0,
             rrd_queue=16384, rrd_tau_s=0.04, rrd_tau_t=0.10, rrd_enqueue="after")
# Fashion-MNIST at 16 px, 5,120 training images (1,000 more held out to choose the best epoch on),
# 5 epochs with the milestones scaled from 240 epochs (150, 180, 210 → 3.125, 3.75, 4.375);
# resnet110→resnet20 shrunk to resnet32→resnet8. The teacher trains 20 epochs on the same images
# (its milestones stretched alike): at 5 it was within a point of the student trained alone.
CPU = derive(PAPER, dataset="fashion_mnist", train_subset=5120, validation_size=1000, image_size=16,
             teacher="resnet32", student="resnet8", teacher_epochs=20, epochs=5, lr_milestones=(3.125, 3.75, 4.375),
             crd_negatives=4096, log_every=10, seeds=3, rrd_queue=4096)
SMOKE = derive(CPU, train_subset=512, validation_size=128, teacher="resnet14", teacher_epochs=3, epochs=2,
               lr_milestones=(1.5,), embed_dim=32, crd_negatives=256, log_every=4, seeds=2, rrd_queue=256)


def student_param() -> Param:
    from ssllib.nets.registry import CLASSIFIERS
    return Param("student", str, "the student network", choices=tuple(CLASSIFIERS))


RRD = ChapterSpec(
    name="rrd",
    params={**distill_params(*DISTILL_FIELDS), **option_params("crd"), **option_params("rrd"),
            "student": student_param(),
            "seeds": Param("seeds", int, "independent runs (from first_seed) of every student", min=1),
            "first_seed": FIRST_SEED},
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    notes={
        "smoke": "a tiny check that every cell runs (512 images, resnet14→resnet8, 2 epochs); its numbers mean "
                 "nothing",
        "cpu": "Fashion-MNIST (5,120 training images, 1,000 more held out for validation) at 16×16 px, "
               "resnet32→resnet8, 5 epochs for each student and 20 for the teacher, with the benchmark's "
               "learning-rate milestones scaled down; CRD's 4,096 "
               "negatives and RRD's queue of 4,096 (the training set is 5,120 images)",
        "paper": "the CIFAR-100 benchmark recipe: 240 epochs, batch 64, lr 0.05 (0.01 for MobileNetV2 and "
                 "ShuffleNets) ×0.1 at 150/180/210, weight decay 5e-4, resnet32x4→resnet8x4 unless a pair is given",
    },
    family="distillation",
    methods=("ce", "kd", "crd", "rrd", "rrd_kd"),
)
