"""The experiments a chapter runs, as functions: several seeds of a method, and the
reference points every encoder is compared with (raw pixels, a randomly initialised encoder)."""
from __future__ import annotations

from typing import Iterable

from ssllib.data import dataset_info
from ssllib.engine.devices import pick_device, place_model
from ssllib.engine.distributed import world_identity
from ssllib.engine.fingerprint import run_code_fingerprint, shared_code_fingerprint
from ssllib.engine.identity import run_key
from ssllib.engine.loop import Run
from ssllib.engine.runs import Result, obtain
from ssllib.evaluate.frozen import raw_pixels
from ssllib.nets.registry import backbone_modules
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.trainer import (RunData, backbone_features, evaluate_backbone, evaluate_features,
                                   initial_model, load_run_data, monitor_accuracy, train)


def train_seeds(cfg: RunConfig, seeds: Iterable[int], paper: str = "", profile: str = "",
                data: RunData | None = None) -> list[Result]:
    """``cfg`` with each of ``seeds``, found or trained, sharing one copy of the data."""
    return [train(cfg.replace(seed=seed), paper=paper, profile=profile, data=data) for seed in seeds]


def _with_monitor(metrics: dict, encode, data: RunData, cfg: RunConfig) -> dict:
    """``metrics`` and the monitor's kNN top-1 for ``encode``, where the run has a monitor."""
    if cfg.monitor_every:
        split = data.monitor_split(cfg.monitor_size, cfg.monitor_test)
        metrics["knn_monitor_top1"] = {"value": monitor_accuracy(encode, split, cfg),
                                       "protocol": {"test": f"held-out training images ({len(split[1])})"}}
    return metrics


def _evaluation(cfg: RunConfig, readable: str, identity: dict, code: str, measure, paper: str, profile: str,
                method: str, backbone: str | None) -> Result:
    """An evaluation run whose configuration is ``identity``: found, or measured and recorded."""
    run = Run(identity, run_key(readable, identity, code), pick_device(cfg.device), evaluate=measure, paper=paper,
              profile=profile, method=method, dataset=cfg.dataset, fields={"backbone": backbone})
    return obtain(run)


def random_init(cfg: RunConfig, seeds: Iterable[int], data: RunData | None = None, paper: str = "",
                profile: str = "") -> list[dict]:
    """kNN and linear probe of the same architecture at its random initialisation, per seed,
    and its kNN on the per-epoch monitor (the level a training curve starts from): an
    evaluation run per seed, kept like a trained run's record."""
    loaded = [data]
    code = run_code_fingerprint(cfg.method, *backbone_modules(cfg.backbone))

    def measure(seed: int) -> dict:
        loaded[0] = loaded[0] or load_run_data(cfg)
        data = loaded[0]
        seeded = cfg.replace(seed=seed)
        model, _ = place_model(initial_model(seeded, data.train, data.size), pick_device(cfg.device), cfg.channels_last)
        return _with_monitor(evaluate_backbone(model.backbone, data, cfg, seed=seed),
                             lambda images: backbone_features(model.backbone, images, data.size, cfg), data, cfg)
    return [_evaluation(cfg, f"random-init-{cfg.method}-{cfg.dataset}-{cfg.backbone}w{cfg.width}-s{seed}",
                        {**cfg.replace(seed=seed).identity(), **world_identity(), "evaluation": "random init"}, code,
                        lambda seed=seed: measure(seed), paper, profile, "random init",
                        f"{cfg.backbone} (width {cfg.width})").record["metrics"]
            for seed in seeds]


RAW_PIXELS_SIDE = 32  # the largest side raw pixels are compared at: 3,072 numbers an image


def raw_pixels_side(size: int) -> int:
    """The side raw pixels are compared at: the encoders' input size up to 32 px (the classic
    thumbnail baseline). A 224-px image is 150,528 numbers; a linear probe over 1,000 classes on
    them needs 600 MB of weights, and L-BFGS keeps 40 copies."""
    return min(size, RAW_PIXELS_SIDE)


def raw_pixel_baseline(cfg: RunConfig, data: RunData | None = None, paper: str = "", profile: str = "") -> dict:
    """kNN and linear probe on the flattened pixels, resized to the encoders' input size up to
    :data:`RAW_PIXELS_SIDE` (no learning at all). It depends only on the data, the size and the
    protocol, so it is measured once per dataset, subset and resolution and shared by every chapter."""
    loaded = [data]
    size = raw_pixels_side(cfg.image_size or dataset_info(cfg.dataset).image_size)

    def measure() -> dict:
        loaded[0] = loaded[0] or load_run_data(cfg)
        data = loaded[0]
        return _with_monitor(evaluate_features(raw_pixels(data.bank, size), data.bank.labels,
                                               raw_pixels(data.test, size), data.test.labels,
                                               data.bank.num_classes, cfg),
                             lambda images: raw_pixels(images, size), data, cfg)
    key = {"evaluation": "raw pixels", "dataset": cfg.dataset, "train_subset": cfg.train_subset, "size": size,
           "knn_k": cfg.knn_k, "knn_t": cfg.knn_t, "seed": 0,
           **({} if cfg.probe == "lbfgs" else {"probe": [cfg.probe, cfg.probe_epochs, cfg.probe_lr, cfg.probe_batch_size]}),
           "monitor": [cfg.monitor_every > 0, cfg.monitor_size, cfg.monitor_test]}
    return _evaluation(cfg, f"raw-pixels-{cfg.dataset}-{size or 'native'}px", key,
                       shared_code_fingerprint(), measure, paper, profile, "raw pixels", None).record["metrics"]


def monitor_levels(raw: dict, random_runs: list[dict]) -> tuple[dict, list[float]]:
    """What the budget figure draws beside a method's kNN-monitor curve: the levels of raw pixels
    and of the random network (mean over its seeds) as ``{label: top-1}``, and each seed's
    random-init value, which is every curve's epoch 0."""
    start = [run["knn_monitor_top1"]["value"] for run in random_runs]
    return {"raw pixels": raw["knn_monitor_top1"]["value"], "random init": sum(start) / len(start)}, start


def single_seed_leads(single, table, reference: str, spread_of: str,
                      metrics: Iterable[str] = ("kNN top-1", "linear top-1")) -> list[str]:
    """For an ablation with one seed per row (``single``, a :func:`report.mean_std_table`): per
    metric, one line naming the rows whose value differs from the ``reference`` row by more than
    the seed-to-seed standard deviation of ``spread_of`` in the multi-seed ``table``. One seed
    gives no interval, so such a row is a lead for a run with more seeds, not a finding."""
    lines = []
    for metric in metrics:
        spread = float(table.loc[spread_of, f"{metric} std"])
        base = float(single.loc[reference, f"{metric} mean"])
        beyond = [f"{name} ({value - base:+.2f})" for name, value in single[f"{metric} mean"].items()
                  if name != reference and abs(value - base) > spread]
        lines.append(f"{metric}: rows further than {spread:.2f} points ({spread_of}'s seed-to-seed std) from "
                     f"{reference}: {', '.join(beyond) if beyond else 'none'}")
    return lines


def metric_rows(label: str, metrics_per_run: list[dict], seeds: Iterable[int] | None = None) -> list[dict]:
    """One row per run: {'method', 'seed', 'kNN top-1', 'linear top-1'} for :mod:`ssllib.chapters.report`;
    ``seeds`` names each run's seed (default 0, 1, …)."""
    seeds = list(seeds) if seeds is not None else list(range(len(metrics_per_run)))
    rows = []
    for seed, metrics in zip(seeds, metrics_per_run, strict=True):
        row = {"method": label, "seed": seed}
        if "knn_top1" in metrics:
            row["kNN top-1"] = metrics["knn_top1"]["value"]
        if "linear_top1" in metrics:
            row["linear top-1"] = metrics["linear_top1"]["value"]
        rows.append(row)
    return rows


def run_rows(label: str, runs: list[Result]) -> list[dict]:
    """:func:`metric_rows` of trained runs, each with its own seed."""
    return metric_rows(label, [r.record["metrics"] for r in runs], [r.config.seed for r in runs])


def with_fixed_level(rows: list[dict], label: str, seeds: Iterable[int]) -> list[dict]:
    """``rows`` with the one row labelled ``label`` (a baseline with no seed, such as raw pixels)
    repeated for every seed, so that paired comparisons against it take the other side's spread."""
    fixed = [r for r in rows if r["method"] == label]
    if len(fixed) != 1:
        raise ValueError(f"expected one row labelled {label!r}, found {len(fixed)}")
    return [r for r in rows if r["method"] != label] + [{**fixed[0], "seed": s} for s in seeds]
