"""The whole-slide chapter: Divide-and-Distill against the base model, for each MIL aggregator,
over k folds (built from the authors' code, MariosPapadopoulos/DnD_MIL, and the abstract).

At the ``cpu`` profile the slides are bags generated from Fashion-MNIST
(:mod:`ssllib.mil.fashion_bags`), their instance features those of the foundations chapter's
first MoCo-v2 encoder (its run, loaded from its checkpoint when that chapter ran first).
"""
from __future__ import annotations

from pathlib import Path

from ssllib.chapters import foundations
from ssllib.chapters.spec import ChapterSpec, Settings, derive, resolve, run_params
from ssllib.data import DatasetNotFound, require_dataset
from ssllib.engine.params import Param, ParameterError
from ssllib.mil.dnd import PARTITIONS
from ssllib.mil.models import aggregators

BENCHMARKS = ("fashion_bags", "clam")

# The reference recipe: CLAM features (1,024-d), five folds, K = 5 experts, Adam lr 1e-4 wd 1e-5 for
# 200 epochs (base, experts), SGD for 400 (student), one bag per step, T = 0.2, every weight 1.
# D&D's T is ``dnd_temperature``: ``temperature`` is the MoCo-v2 encoder's τ (a run field of the
# foundations encoder whose features the generated bags use), and one name cannot hold both.
PAPER = dict(foundations.moco_settings(foundations.PAPER), first_seed=0, benchmark="clam", features_dir=None, labels_csv=None, splits_dir=None,
             mil_models="mean,max,abmil,transmil", folds=5, k_experts=5, partition="kmeans", cluster_on="logits",
             hidden=512, dropout=0.25, class_weighted=False, mil_epochs=200, student_epochs=400, mil_lr=1e-4,
             student_lr=1e-4, mil_weight_decay=1e-5, bags_per_step=1, dnd_temperature=0.2, ce_weight=1.0, base_weight=1.0,
             expert_weight=1.0, student_init="base", bags_per_population=100, bag_min=8, bag_max=24,
             max_witnesses=3, heatmap_bags=3)
# Generated bags on a 2-core CPU: 3 populations × 80 bags of 8–24 instances, the foundations
# chapter's MoCo-v2 features (64-d); K = 3 (one per population, if the partition finds them),
# 25 epochs, 8 bags per step (so lr 1e-3), a 64-wide embedding. Every choice is a parameter; the
# chapter lists each departure from the reference.
CPU = derive(derive(PAPER, **foundations.moco_settings(foundations.CPU)), benchmark="fashion_bags", k_experts=3,
             hidden=64, mil_epochs=25, student_epochs=25, mil_lr=1e-3, student_lr=1e-3, bags_per_step=8,
             bags_per_population=80)
SMOKE = derive(derive(CPU, **foundations.moco_settings(foundations.SMOKE)), mil_models="mean,abmil,transmil", folds=3,
               k_experts=2, hidden=16, mil_epochs=2, student_epochs=2, bags_per_population=16, bag_min=4, bag_max=8,
               heatmap_bags=1)


def model_list(settings) -> list[str]:
    return [m.strip() for m in settings.mil_models.split(",") if m.strip()]


def check_wsi(settings) -> None:
    """Known aggregators, a bag size range that holds the witnesses, K no larger than the
    training slides, and the CLAM files where the benchmark is on disk."""
    models = model_list(settings)
    unknown = [m for m in models if m not in aggregators()]
    if not models or unknown:
        raise ParameterError(f"mil_models names {unknown[0] if unknown else 'nothing'!r}; choose from "
                             f"{', '.join(aggregators())} (comma-separated)")
    if settings.bag_min > settings.bag_max:
        raise ParameterError(f"bag_min={settings.bag_min} is larger than bag_max={settings.bag_max}")
    if settings.max_witnesses > settings.bag_min:
        raise ParameterError(f"max_witnesses={settings.max_witnesses} does not fit a bag of bag_min="
                             f"{settings.bag_min} instances")
    if settings.benchmark == "fashion_bags":
        from ssllib.mil.fashion_bags import POPULATIONS
        slides = len(POPULATIONS) * settings.bags_per_population
        train = slides - 2 * (slides // settings.folds)          # two of the folds' parts are held out
        if settings.k_experts > train:
            raise ParameterError(f"k_experts={settings.k_experts} is more than the {train} training slides of a "
                                 f"fold; use fewer experts or more bags")
    else:
        for name in ("features_dir", "labels_csv", "splits_dir"):
            value = settings[name]
            if not value:
                raise ParameterError(f"benchmark='clam' needs {name} (CLAM layout: features_dir/<slide_id>.pt, "
                                     f"labels_csv with slide_id and label, splits_dir/splits_<i>.csv)")
            if not Path(value).expanduser().exists():
                raise DatasetNotFound(f"{name}={value!r} is not there; point it at the extracted CLAM features "
                                      f"and their files")


WSI = ChapterSpec(
    name="wsi",
    params={
        **run_params(*foundations.MOCO_RUN_FIELDS),
        "first_seed": Param("first_seed", int, "the seed of the foundations encoder and of every MIL run", min=0),
        "benchmark": Param("benchmark", str, "the slides: bags generated from Fashion-MNIST, or CLAM features on "
                           "disk", choices=BENCHMARKS),
        "features_dir": Param("features_dir", str, "CLAM: the folder of <slide_id>.pt feature files", nullable=True),
        "labels_csv": Param("labels_csv", str, "CLAM: the CSV of slide_id and label", nullable=True),
        "splits_dir": Param("splits_dir", str, "CLAM: the folder of splits_<i>.csv", nullable=True),
        "mil_models": Param("mil_models", str, "the MIL aggregators, comma-separated"),
        "folds": Param("folds", int, "folds (each tests on its own part, validates on the next)", min=3),
        "k_experts": Param("k_experts", int, "K: clusters of the training slides, one expert each", min=1),
        "partition": Param("partition", str, "how the training slides are clustered", choices=PARTITIONS),
        "cluster_on": Param("cluster_on", str, "what is clustered: the base model's logits (the reference) or its "
                            "slide embeddings", choices=("logits", "embedding")),
        "hidden": Param("hidden", int, "width of the instance embedding of every aggregator", min=1),
        "dropout": Param("dropout", float, "dropout after the instance embedding (below 1: at 1 every embedding "
                         "is zeroed)", min=0.0, below=1.0),
        "class_weighted": Param("class_weighted", bool, "weight cross-entropy by inverse class frequency"),
        "mil_epochs": Param("mil_epochs", int, "epochs of the base model and of each expert", min=1),
        "student_epochs": Param("student_epochs", int, "epochs of the student", min=1),
        "mil_lr": Param("mil_lr", float, "Adam's learning rate for the base model and the experts", min=0.0),
        "student_lr": Param("student_lr", float, "SGD's learning rate for the student", min=0.0),
        "mil_weight_decay": Param("mil_weight_decay", float, "weight decay of every MIL run", min=0.0),
        "bags_per_step": Param("bags_per_step", int, "bags per optimisation step (the reference: 1)", min=1),
        "dnd_temperature": Param("dnd_temperature", float, "D&D's T: the temperature of the student's softened "
                                 "distributions (the distillation only; temperature is the MoCo-v2 encoder's τ)",
                                 min=1e-3),
        "ce_weight": Param("ce_weight", float, "the student's weight on cross-entropy", min=0.0),
        "base_weight": Param("base_weight", float, "the student's weight on the KL to the base model", min=0.0),
        "expert_weight": Param("expert_weight", float, "the student's weight on the mean KL to the experts", min=0.0),
        "student_init": Param("student_init", str, "the student starts from the base model or at random",
                              choices=("base", "random")),
        "bags_per_population": Param("bags_per_population", int, "generated bags of each sub-population", min=2),
        "bag_min": Param("bag_min", int, "fewest instances in a generated bag", min=1),
        "bag_max": Param("bag_max", int, "most instances in a generated bag", min=1),
        "max_witnesses": Param("max_witnesses", int, "most witness instances in a positive generated bag", min=1),
        "heatmap_bags": Param("heatmap_bags", int, "test bags drawn with ABMIL's attention", min=1),
    },
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    notes={
        "smoke": "a tiny check that every cell runs (48 generated bags, three folds, two experts); its numbers mean "
                 "nothing",
        "cpu": "240 bags generated from Fashion-MNIST in three sub-populations, the foundations chapter's MoCo-v2 "
               "features, five folds, K = 3 experts, 25 epochs per model",
        "paper": "the reference recipe on CLAM features (five folds, K = 5, 200 epochs for the base and the experts, "
                 "400 for the student, one bag per step)",
    },
    checks=(check_wsi,),
)


def uses_encoder(settings) -> bool:
    return settings.benchmark == "fashion_bags"


def resolve_settings(given: dict) -> Settings:
    """The chapter's settings; the encoder's dataset is required on disk only for generated bags."""
    settings = resolve(WSI, given, check_data=False)
    if uses_encoder(settings):
        require_dataset(settings.dataset, settings.data_root, settings.download)
    return settings


ENCODER_FIELDS = (*foundations.MOCO_RUN_FIELDS, "first_seed")


def show_value(value) -> str:
    """A setting as the departures table prints it: numbers by ``{:g}`` (5, 0.0001, 1e-05),
    anything else as its text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return str(value)


def departures(settings, reference: dict) -> list[dict]:
    """Every D&D setting of this run that differs from ``reference`` (the paper profile): one
    row each, values formatted by :func:`show_value`. The instance encoder's settings
    (``ENCODER_FIELDS``) are left out: on real slides the features come from CLAM's extractor,
    not from this encoder, so they have no reference value to depart from."""
    return [{"setting": name, "reference": show_value(reference[name]), "this run": show_value(settings[name])}
            for name in WSI.params if name not in ENCODER_FIELDS and settings[name] != reference[name]]


def cluster_purity(population, labels, clusters) -> dict[str, float]:
    """How much each cluster is one population, or one label: the share (%) of the slides whose
    cluster's largest population (label) is theirs, i.e. Σ_clusters (largest group's count) / N.
    With equal populations, clusters drawn at random score about 100 / (number of populations)."""
    import pandas as pd

    frame = pd.DataFrame({"population": list(population), "label": list(labels), "cluster": list(clusters)})
    n = len(frame)
    return {what: 100.0 * float(pd.crosstab(frame["cluster"], frame[what]).max(axis=1).sum()) / n
            for what in ("population", "label")}
