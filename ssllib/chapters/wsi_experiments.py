"""The whole-slide chapter's experiment: the slides (generated or on disk), their folds, and
Divide-and-Distill against the base model for each aggregator on each fold."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ssllib.chapters.wsi import model_list
from ssllib.mil.bags import Bags, read_clam, read_split
from ssllib.mil.divide_and_distill import DnDResult, divide_and_distill
from ssllib.mil.folds import stratified_folds
from ssllib.engine.registry import methods
from ssllib.mil.config import MILConfig
from ssllib.mil.models import aggregators


@dataclass
class Slides:
    bags: Bags
    folds: list[dict]                 # {"train", "val", "test"} slide ids
    generated: object = None          # GeneratedBags for the Fashion-MNIST bags
    images: torch.Tensor | None = None   # the instances' images (generated bags)
    encoder: object = None            # the run whose features the instances are


def load_slides(settings) -> Slides:
    """Generated bags with the foundations encoder's features of the Fashion-MNIST test images
    (which that encoder never trained on), or CLAM features with their split files."""
    if settings.benchmark == "clam":
        bags = read_clam(settings.features_dir, settings.labels_csv)
        files = sorted(Path(settings.splits_dir).expanduser().glob("splits_*.csv"),
                       key=lambda p: int(p.stem.split("_")[1]))[: settings.folds]
        if not files:
            from ssllib.data import DatasetNotFound
            raise DatasetNotFound(f"splits_dir={settings.splits_dir!r} holds no splits_<i>.csv")
        folds = [read_split(f) for f in files]
        for f, split in zip(files, folds):
            for part, ids in split.items():
                bags.index_of(ids, f"{f.name} ({part})")
        return Slides(bags, folds)
    from ssllib.chapters.selfsup_experiments import train_seeds
    from ssllib.data import dataset_info, load_dataset
    from ssllib.mil.fashion_bags import make_bags
    from ssllib.selfsup.trainer import backbone_features

    cfg = settings.run_config(method="mocov2")
    encoder = train_seeds(cfg, [settings.first_seed], paper="foundations", profile=settings.record_profile)[0]
    test = load_dataset(cfg.dataset, "test", cfg.data_root)
    size = cfg.image_size or dataset_info(cfg.dataset).image_size

    def features():  # the encoder's weights are needed only where a MIL run trains
        return backbone_features(encoder.model.backbone, test, size, cfg).cpu()
    generated = make_bags(features, test.labels, settings.bags_per_population, (settings.bag_min, settings.bag_max),
                          settings.max_witnesses, seed=settings.first_seed,
                          source=f"{cfg.dataset} test features of {encoder.run_id}",
                          source_setting=f"{cfg.dataset} test features of {encoder.record['setting']}",
                          dim=feature_dim(cfg))
    strata = generated.population * 2 + generated.bags.labels
    folds = stratified_folds(generated.bags, settings.folds, seed=settings.first_seed, strata=strata)
    return Slides(generated.bags, folds, generated, test.images, encoder)


def feature_dim(cfg) -> int:
    """The width of an encoder's pooled features, from its architecture alone (no weights)."""
    from ssllib.data import dataset_info
    from ssllib.nets.registry import build_backbone

    info = dataset_info(cfg.dataset)
    return build_backbone(cfg.backbone, cfg.stem, cfg.width, info.channels, 1, cfg.image_size or info.image_size,
                          ).feature_dim


def configs(settings, model: str, fold: int) -> tuple[MILConfig, MILConfig]:
    """(base and experts, student) configurations of ``model`` on ``fold``: the base model and
    the experts are the aggregator trained with cross-entropy; the student is method ``dnd``
    with its own options (the aggregator, D&D's temperature, the loss weights, its start)."""
    base = MILConfig.from_dict(dict(
        method=model, hidden=settings.hidden, dropout=settings.dropout, class_weighted=settings.class_weighted,
        epochs=settings.mil_epochs, batch_size=settings.bags_per_step, optimizer="adam", lr=settings.mil_lr,
        weight_decay=settings.mil_weight_decay, data=f"{settings.benchmark}|fold {fold}", seed=settings.first_seed,
        device=settings.device, log_every=10))
    student = base.replace(method="dnd", optimizer="sgd", lr=settings.student_lr, epochs=settings.student_epochs,
                           options=dict(aggregator=model, temperature=settings.dnd_temperature,
                                        ce_weight=settings.ce_weight, base_weight=settings.base_weight,
                                        expert_weight=settings.expert_weight, student_init=settings.student_init))
    return base, student


def run_all(settings, slides: Slides) -> dict[str, list[DnDResult]]:
    """D&D (and its base model) for every aggregator on every fold."""
    out = {}
    for model in model_list(settings):
        out[model] = []
        for fold, split in enumerate(slides.folds):
            train, val, test = (slides.bags.subset(slides.bags.index_of(split[p])) for p in ("train", "val", "test"))
            base, student = configs(settings, model, fold)
            out[model].append(divide_and_distill(base, student, train, val, test, settings.k_experts,
                                                 settings.partition, settings.cluster_on, settings.record_profile,
                                                 label=f"{model} fold {fold + 1}"))
    return out


# Each aggregator's name in tables: its method's title (mean-MIL, max-MIL, ABMIL, TransMIL, …).
LABELS = {name: methods("mil")[name].label for name in aggregators()}


def result_rows(results: dict[str, list[DnDResult]]) -> list[dict]:
    """One row per (model, method, fold): test AUC and accuracy (%) of the base and of D&D."""
    rows = []
    for model, per_fold in results.items():
        for fold, r in enumerate(per_fold):
            for method, run in (("base", r.base), ("D&D", r.student)):
                m = run.record["metrics"]
                rows.append({"model": LABELS[model], "method": f"{LABELS[model]} {method}", "seed": fold,
                             "AUC": m["test_auc"]["value"], "accuracy": m["test_accuracy"]["value"]})
    return rows


def attention_maps(result, bags: Bags, index: list[int]) -> list:
    """ABMIL's attention over the instances of the bags at ``index`` (one array per bag), from
    the run's best-epoch weights; kept with the run."""
    def compute() -> list:
        from ssllib.mil.bags import pad

        net = result.model.net.eval()
        out = []
        with torch.no_grad():
            for i in index:
                x, mask = pad([bags.features[i]])
                out.append(net(x.to(next(net.parameters()).device), mask.to(next(net.parameters()).device))
                           ["attention"][0].cpu().numpy())
        return out
    return result.derived("attention", compute, key={"bags": bags.setting_key, "index": [int(i) for i in index]})
