"""The CueCo chapter: MoCo-v2 against CueCo in both forms of its clustering term, an ablation
over λ and the number of clusters, and the clusters themselves."""
from __future__ import annotations

from ssllib.chapters import foundations
from ssllib.chapters.spec import FIRST_SEED, ChapterSpec, derive, option_params, run_params
from ssllib.engine.params import Param, ParameterError

_moco = foundations.moco_settings


_CUECO = dict(cluster_loss="proto", cluster_weight=1.0, cluster_temperature=0.1, num_clusters=100, refresh_every=100,
              cluster_warmup_epochs=10, kmeans_iters=10)
# The paper's setting as far as it is known (ResNet-18, CIFAR-10 at 32 px); epochs and batch are
# not published: 500 epochs of batch 256 is the book's choice, with the one-GPU
# CIFAR preset's MoCo-v2 settings at lr scaled linearly to the batch.
PAPER = dict(_moco(foundations.CIFAR), **{k: v for k, v in _moco(foundations.PAPER).items()
                                          if k not in foundations.CIFAR}, **_CUECO)
PAPER.update(dataset="cifar10", epochs=500, batch_size=256, lr=0.03, seeds=1, first_seed=0, ablation=False,
             ablation_weights=(0.3, 3.0), ablation_clusters=(20.0, 400.0), picture_images=2000, log_every=50)
CIFAR100 = dict(num_clusters=1000)
# ImageNet-100: the ImageNet stem at 224 px, MoCo-v2's ImageNet augmentation, 10 clusters per class.
IMAGENET100 = dict(stem="imagenet", image_size=224, queue_size=16384, temperature=0.2, crop_min_scale=0.2, blur_p=0.5,
                   num_clusters=1000, monitor_size=50000)
# The foundations chapter's CPU recipe (its MoCo-v2 runs are this chapter's); the clusters are
# refreshed once an epoch (100 steps), the clustering term on from the second of 15 epochs.
CPU = derive(derive(PAPER, **_moco(foundations.CPU)), cluster_warmup_epochs=1, refresh_every=100, num_clusters=100,
             seeds=3, ablation=True, log_every=10)
SMOKE = derive(derive(CPU, **{k: v for k, v in _moco(foundations.SMOKE).items() if v != foundations.CPU[k]}),
               epochs=2, num_clusters=20, refresh_every=8, seeds=2, ablation_weights=(3.0,), ablation_clusters=(40.0,),
               picture_images=300, log_every=4)


def check_ablation(settings) -> None:
    """Every ablation cluster count is a whole number the queue can be clustered into."""
    for count in settings.ablation_clusters:
        if count != int(count) or not 1 <= count <= settings.queue_size:
            raise ParameterError(f"ablation_clusters holds {count:g}; each must be a whole number from 1 to "
                                 f"queue_size={settings.queue_size}")


CUECO = ChapterSpec(
    name="cueco",
    params={
        **run_params(*foundations.MOCO_RUN_FIELDS, "log_every"),
        **option_params("cueco"),
        "seeds": Param("seeds", int, "independent runs (from first_seed) of MoCo-v2 and of each CueCo form", min=1),
        "first_seed": FIRST_SEED,
        "ablation": Param("ablation", bool, "also train CueCo at other λ and numbers of clusters (first seed only)"),
        "ablation_weights": Param("ablation_weights", tuple, "the λ values of the ablation (beside the runs' own λ)",
                                  min=0.0),
        "ablation_clusters": Param("ablation_clusters", tuple, "the numbers of clusters of the ablation, whole numbers "
                                   "(beside the runs' own number)", min=1),
        "picture_images": Param("picture_images", int, "test images in the 2-D picture of the clusters", min=10),
    },
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    overlays={"paper": {"cifar100": CIFAR100, "imagenet100": IMAGENET100}},
    notes={
        "smoke": "a tiny check that every cell runs (1,024 images, width-4 network, 20 clusters); its numbers mean "
                 "nothing",
        "cpu": "the foundations chapter's recipe (6,400 Fashion-MNIST images at 16×16 px, a width-8 ResNet-18, 15 "
               "epochs) with 100 clusters of the queue refreshed every epoch and the clustering term from the second",
        "paper": "CueCo on CIFAR-10 with ResNet-18 (CIFAR stem), 500 epochs of batch 256 (the paper gives neither: "
                 "the book's choice), 100 clusters",
        "paper/cifar100": "CueCo on CIFAR-100, ResNet-18 CIFAR stem, 500 epochs of batch 256 (the book's choice), "
                          "1,000 clusters",
        "paper/imagenet100": "CueCo on ImageNet-100, ResNet-18 ImageNet stem at 224 px, 500 epochs of batch 256 (the "
                             "book's choice), 1,000 clusters",
    },
    checks=(check_ablation,),
    methods=("mocov2", "cueco"),
)
