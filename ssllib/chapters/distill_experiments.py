"""What the distillation chapters do with runs: train a teacher once and every student over
seeds, tabulate last- and best-epoch accuracy beside the teacher's, count students that beat
their teacher, and look inside RRD's relation distributions."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ssllib.data.augment import prepare_eval
from ssllib.distill.config import DistillConfig, needs_teacher
from ssllib.distill.trainer import DistillData, load_distill_data, load_teacher, teacher_key, train_distill
from ssllib.engine.registry import method as find_method
from ssllib.engine.runs import Result

LAST, BEST, TEACHER = "last-epoch top-1", "best-validation-epoch top-1", "teacher top-1"


@dataclass
class GivenTeacher:
    """A teacher loaded from the user's checkpoint: what the chapters read of a teacher run
    (its network as ``model.student``, test top-1 and a key that identifies it), with nothing
    trained here."""

    config: DistillConfig
    network: torch.nn.Module
    top1: float
    run_id: str
    path: str
    trained_now: bool = False
    given: bool = True

    def metric(self, name: str = "test_top1") -> float:
        return self.top1

    @property
    def model(self):
        return SimpleNamespace(student=self.network)

    @property
    def record(self) -> dict:
        return {"setting": self.run_id, "metrics": {"test_top1": {"value": self.top1}}}

    def derived(self, name: str, compute, key: dict | None = None):
        return compute()


def given_teacher(cfg: DistillConfig, data: DistillData) -> GivenTeacher:
    """``cfg.teacher_checkpoint`` loaded as a ``cfg.teacher`` (refused with one sentence if it
    holds another architecture, a damaged file or no weights) and measured on the test split."""
    network, top1 = load_teacher(cfg, data)
    return GivenTeacher(cfg.teacher_config(), network, top1, f"given-{teacher_key(cfg)}", cfg.teacher_checkpoint)


def train_students(settings, methods, seeds: Iterable[int], paper: str = "",
                   data: DistillData | None = None) -> tuple[Result, dict[str, list[Result]]]:
    """The teacher (the user's ``teacher_checkpoint``, or a run trained once and then loaded)
    and a run of the student per seed of ``seeds`` under each of ``methods`` ('ce' is the student alone),
    all on one copy of the data. A given checkpoint is loaded and checked before any training."""
    with_teacher = settings.distill_config("kd")
    data = data or load_distill_data(with_teacher)
    if with_teacher.teacher_checkpoint:
        teacher = given_teacher(with_teacher, data)
    else:
        teacher = train_distill(with_teacher.teacher_config(), paper=paper, profile=settings.record_profile, data=data)
    students = {method: [train_distill(settings.distill_config(method, seed=seed), paper=paper,
                                       profile=settings.record_profile, data=data) for seed in seeds]
                for method in methods}
    return teacher, students


def label(method: str) -> str:
    declared = find_method(method)
    return declared.label if needs_teacher(declared) else "student alone"


def accuracy_rows(students: dict[str, list[Result]]) -> list[dict]:
    """One row per run for :func:`ssllib.chapters.report.mean_std_table`: the last epoch's top-1,
    and the best validation epoch's where images were held out to choose it."""
    rows = []
    for method, runs in students.items():
        for run in runs:
            rows.append({"method": label(method), "seed": run.config.seed, LAST: run.metric("test_top1"),
                         **({BEST: run.metric("test_top1_best")} if "test_top1_best" in run.record["metrics"] else {})})
    return rows


def accuracy_columns(rows: list[dict]) -> list[str]:
    """The accuracy columns the runs have: the last epoch's, and the best validation epoch's
    where every run held images out (``validation_size`` > 0; the benchmark's recipe holds none)."""
    return [LAST, BEST] if rows and all(BEST in row for row in rows) else [LAST]


def beats_teacher(students: dict[str, list[Result]], teacher_top1: float) -> pd.DataFrame:
    """Per method: how many runs end above the teacher (last epoch), and the mean and largest
    margin student − teacher in points."""
    rows = {}
    for method, runs in students.items():
        margins = np.array([run.metric("test_top1") - teacher_top1 for run in runs])
        rows[label(method)] = {"runs above the teacher": f"{int((margins > 0).sum())} of {len(margins)}",
                               "mean margin (points)": round(float(margins.mean()), 2),
                               "largest margin (points)": round(float(margins.max()), 2)}
    return pd.DataFrame.from_dict(rows, orient="index")


@torch.no_grad()
def penultimate_features(network: torch.nn.Module, images: torch.Tensor, dataset, size: int) -> torch.Tensor:
    """The pooled features before the classifier (eval mode, no augmentation) of uint8 ``images``."""
    device = next(network.parameters()).device
    x = prepare_eval(images.to(device), dataset.mean, dataset.std, size)
    return network.eval()(x)[0][-1].float().cpu()


def relation_rows(teacher, students: dict[str, list[Result]], data: DistillData, images: int = 1000,
                  k: int = 10) -> list[dict]:
    """How well each student run keeps the teacher's similarity structure on the first
    ``images`` test images (read after training, like every reported number): one row per run
    with the relation correlation and the neighbour overlap at ``k``
    (:mod:`ssllib.evaluate.relations`), kept with each student's run."""
    from ssllib.evaluate.relations import neighbour_overlap, relation_correlation

    test = data.test
    batch = test.images[:images]

    def measure(run) -> dict:
        reference = penultimate_features(teacher.model.student, batch, test, data.size)
        features = penultimate_features(run.model.student, batch, test, data.size)
        return {"relation correlation": relation_correlation(features, reference),
                f"neighbour overlap at {k}": neighbour_overlap(features, reference, k)}
    rows = []
    for method, runs in students.items():
        for run in runs:
            kept = run.derived("relations", lambda run=run: measure(run),
                               key={"teacher": teacher.record["setting"], "images": images, "k": k,
                                    "size": data.size})
            rows.append({"method": label(method), "seed": run.config.seed, **kept})
    return rows


def relation_distributions(result: Result, teacher, images: torch.Tensor, dataset, size: int, shown: int = 3,
                           k: int = 10) -> dict:
    """RRD's two distributions over its memory for ``images`` (uint8, N×C×H×W), computed as the
    loss computes them, with the run's trained heads and final queue (eval-mode networks, no
    augmentation): ``p_t`` and ``p_s`` of the first ``shown`` images ((shown, K) each, for the
    figure) and :func:`relation_agreement` over all N; kept with the run."""
    @torch.no_grad()
    def compute() -> dict:
        rrd = result.model.criterion
        memory = rrd.queue.keys.float()
        h_s, h_t = (penultimate_features(net, images, dataset, size).to(memory.device)
                    for net in (result.model.student, teacher.model.student))
        z_s, z_t = F.normalize(rrd.embed_s(h_s), dim=1), F.normalize(rrd.embed_t(h_t), dim=1)
        p_t = F.softmax(z_t @ memory.t() / rrd.tau_t, dim=1).cpu().numpy()
        p_s = F.softmax(z_s @ memory.t() / rrd.tau_s, dim=1).cpu().numpy()
        return {"p_t": p_t[:shown], "p_s": p_s[:shown], "agreement": relation_agreement(p_t, p_s, k),
                "entries": p_t.shape[1], "images": len(images)}
    return result.derived("relation-distributions", compute,
                          key={"teacher": teacher.record["setting"], "images": len(images), "dataset": dataset.name,
                               "size": size, "shown": shown, "k": k})


def check_transfer(settings) -> None:
    """The transfer dataset must have as many colour channels as the training set: say so
    before any training starts."""
    from ssllib.data import DATASETS
    from ssllib.engine.params import ParameterError

    train, target = DATASETS[settings.dataset], DATASETS[settings.transfer_dataset]
    if train.channels != target.channels:
        raise ParameterError(f"transfer_dataset={settings.transfer_dataset!r} has {target.channels} colour "
                             f"channel(s) but the networks are trained on {settings.dataset!r} with "
                             f"{train.channels}; pick a transfer dataset with {train.channels}")


def transfer_accuracies(teacher: Result, students: dict[str, list[Result]], settings,
                        size: int, paper: str = "dcd") -> list[dict]:
    """The transfer probe (DCD's recipe, at ``settings``' epochs and milestones) of the teacher
    and of every student run, one row each: {'method', 'seed', 'transfer top-1'}."""
    from ssllib.data import load_dataset
    from ssllib.data.registry import to_memory
    from ssllib.evaluate.transfer import TransferRecipe, transfer_probe

    train = load_dataset(settings.transfer_dataset, "train", settings.data_root, settings.download)
    test = load_dataset(settings.transfer_dataset, "test", settings.data_root)
    if not train.in_memory:
        train, test = to_memory(train, size), to_memory(test, size)
    rows = []
    for name, runs in [("teacher", [teacher]), *((label(m), r) for m, r in students.items())]:
        for run in runs:
            recipe = TransferRecipe(epochs=settings.transfer_epochs, lr_milestones=tuple(settings.transfer_milestones),
                                    size=size, seed=run.config.seed)
            result = transfer_probe(run, lambda run=run: run.model.student, train, test, recipe,
                                    f"transfer {name} seed {run.config.seed}", paper=paper, profile=settings.record_profile)
            rows.append({"method": name, "seed": run.config.seed, "transfer top-1": result.metric("test_top1")})
    return rows


# ----------------------------------------------------------------------- helpers of both chapters' prose

def cifar_resnet_depth(network: torch.nn.Module) -> int:
    """The depth 6n+2 of a CIFAR ResNet of the benchmark's zoo, counted from the network itself:
    the stem convolution, two convolutions per residual block and the classifier."""
    from ssllib.nets.zoo import CifarBasicBlock

    blocks = sum(isinstance(m, CifarBasicBlock) for m in network.modules())
    if not blocks:
        raise ValueError(f"{type(network).__name__} has no CIFAR ResNet blocks, so no depth 6n+2")
    return 2 * blocks + 2


def loss_weights(methods: Iterable[str]) -> pd.DataFrame:
    """The benchmark's weights r (cross-entropy), a (KD) and b (the method's own loss) of each of
    ``methods``, as the library's method definitions set them."""
    rows = {}
    for name in methods:
        defaults = find_method(name).defaults
        rows[label(name)] = {"r (cross-entropy)": defaults["ce_weight"], "a (KD)": defaults["kd_weight"],
                             "b (method's loss)": defaults["distill_weight"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def relation_agreement(p_t: np.ndarray, p_s: np.ndarray, k: int = 10) -> dict[str, float]:
    """How far the student's relation distributions ``p_s`` follow the teacher's ``p_t`` (each
    N × K, rows summing to 1, as :func:`relation_distributions` returns them): medians over the
    N images of KL(p_T ‖ p_S) and of KL(p_T ‖ uniform) (a student that spreads evenly), the mean
    share of the teacher's top ``k`` entries that are also the student's top ``k`` with its
    chance value k/K, and the median of the teacher's largest probability beside 1/K."""
    n_entries = p_t.shape[1]
    log_t = np.log(p_t + 1e-12)
    kl = (p_t * (log_t - np.log(p_s + 1e-12))).sum(1)
    uniform_kl = (p_t * (log_t + np.log(n_entries))).sum(1)
    top_t, top_s = np.argsort(-p_t, 1)[:, :k], np.argsort(-p_s, 1)[:, :k]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top_t, top_s)])
    return {"kl median": float(np.median(kl)), "uniform kl median": float(np.median(uniform_kl)),
            "top-k overlap": float(overlap), "top-k chance": k / n_entries,
            "largest p_T median": float(np.median(p_t.max(1))), "even p": 1 / n_entries}


def published_values(reported: pd.DataFrame, teacher: str, student: str) -> pd.Series:
    """The published top-1 of each method on one benchmark pair (from a chapter's reported.csv,
    transfer rows left out), indexed by the method's name in the tables."""
    pair = reported[(reported.teacher == teacher) & (reported.student == student)
                    & (reported.table != "transfer")]
    return pair.set_index("method").value


def compared_pair(reported: pd.DataFrame, teacher: str, student: str, stand_in: tuple[str, str]) -> tuple[str, str]:
    """The published pair a run is set beside: its own (``teacher``, ``student``) where the paper
    reports it, else ``stand_in``, the published pair the run's networks are scaled from."""
    published = set(zip(reported.teacher, reported.student))
    return (teacher, student) if (teacher, student) in published else stand_in


def pair_name(teacher: str, student: str) -> str:
    return f"{teacher}→{student}"


def gain_table(rows: list[dict], methods: Iterable[str], published: pd.Series, pair: str, profile: str,
               key: str = LAST) -> pd.DataFrame:
    """Each method's gain over the student trained alone: published (``published``, one pair's
    values from :func:`published_values`, named ``pair``) and ours, the paired mean over seeds of
    method − student alone on ``key`` with its 95% interval (with one seed, the one difference
    and no interval)."""
    from ssllib.chapters.statistics import by_seed, compare

    out = {}
    for method in methods:
        name = label(method)
        a, b = by_seed(rows, "method", name, key), by_seed(rows, "method", "student alone", key)
        shared = sorted(set(a) & set(b))
        if len(shared) >= 2:
            ours = compare(rows, "method", name, "student alone", key)
            digits = ours.digits()
            gain, interval = round(ours.mean, digits), f"{ours.low:+.{digits}f} to {ours.high:+.{digits}f}"
        else:
            gain = round(sum(a[s] - b[s] for s in shared) / len(shared), 2) if shared else float("nan")
            interval = f"none ({len(shared)} seed{'s' if len(shared) != 1 else ''}: an interval needs 2)"
        out[name] = {f"published gain over student ({pair})": round(published[name] - published["Student"], 2),
                     f"our gain over student ({profile})": gain, "our 95% CI (paired over seeds)": interval}
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("method")


def published_pairs(reported: pd.DataFrame) -> pd.DataFrame:
    """The published top-1 of every benchmark pair (rows: table and 'teacher → student'; columns:
    methods), transfer rows left out."""
    benchmark = reported[reported.table != "transfer"].assign(pair=reported.teacher + " → " + reported.student)
    return benchmark.pivot_table(index=["table", "pair"], columns="method", values="value", sort=False)


def largest_bias(runs) -> float:
    """The largest |b| of DCD's learnt bias over ``runs`` (each kept with its run)."""
    return max(abs(run.derived("criterion-bias", lambda run=run: run.model.criterion.bias.item())) for run in runs)


def architecture(run) -> torch.nn.Module:
    """The network a run trains, freshly built from its configuration (no weights needed: for
    counting parameters and layers)."""
    if getattr(run, "given", False):
        return run.network
    from ssllib.data import dataset_info
    from ssllib.nets.zoo import build_network

    info = dataset_info(run.config.dataset)
    return build_network(run.config.network, num_classes=info.num_classes, in_channels=info.channels)
