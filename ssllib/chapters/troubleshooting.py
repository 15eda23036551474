"""The catalogue of bad inputs: what a reader may get wrong in each chapter, the one sentence the
book answers with, and how to fix it. ``tests/test_bad_inputs.py`` runs every case against
every chapter it names; the README's troubleshooting table is made from it:

    python -m ssllib.chapters.troubleshooting      # prints the Markdown table
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESNET_CHAPTERS = ("foundations", "synco", "cueco")
SELF_SUPERVISED = ("foundations", "synco", "synco_vit", "cueco")
DISTILLATION = ("rrd", "dcd")
RETRIEVAL = ("cdir",)
WHOLE_SLIDE = ("wsi",)
ALL = SELF_SUPERVISED + DISTILLATION + RETRIEVAL + WHOLE_SLIDE  # the chapters that train or evaluate
REVIEW = ("review",)  # trains nothing: only its parameters can be wrong


@dataclass(frozen=True)
class Case:
    situation: str               # what the reader did
    chapters: tuple[str, ...]
    kind: str                    # parameters | data | dataset file | benchmark | slides | run checkpoint |
    #                              run record | busy | teacher checkpoint | disk | divergence
    error: str                   # the exception's class name
    message: str                 # a regular expression the message matches
    fix: str                     # what the message tells the reader to do
    params: dict[str, Any] = field(default_factory=dict)
    damage: str = ""             # checkpoints: truncated | foreign | tensor | pickle | architecture;
    #                              slides: empty_bag | wrong_dim | missing_slide; records: edited | garbage


CASES = (
    Case("a misspelt parameter (`-p epoch 2`)", ALL, "parameters", "ParameterError",
         r"has no parameter 'epoch'; did you mean 'epochs'", "use the suggested name", {"epoch": 2}),
    Case("a value of the wrong type (`-p epochs two`)", ALL, "parameters", "ParameterError",
         r"epochs='two' has the wrong type: expected int", "give a value of the named type", {"epochs": "two"}),
    Case("a value out of range (`-p epochs 0`)", ALL, "parameters", "ParameterError",
         r"epochs=0 is out of range: it must be at least 1", "give a value in the range", {"epochs": 0}),
    Case("an unknown profile (`-p profile gpu`)", ALL + REVIEW, "parameters", "ParameterError",
         r"profile='gpu' is not one of the valid choices smoke, cpu, paper", "choose smoke, cpu or paper",
         {"profile": "gpu"}),
    Case("an unknown dataset (`-p dataset cifar11`)", ALL, "parameters", "ParameterError",
         r"dataset='cifar11' is not one of the valid choices.*did you mean 'cifar10'", "use a listed dataset",
         {"dataset": "cifar11"}),
    Case("an unknown backbone (`-p backbone resnet19`)", RESNET_CHAPTERS, "parameters", "ParameterError",
         r"backbone='resnet19' is not one of the valid choices", "use a listed backbone", {"backbone": "resnet19"}),
    Case("an unknown transformer (`-p vit_backbone vit_huge`)", ("synco_vit",), "parameters", "ParameterError",
         r"vit_backbone='vit_huge' is not one of the valid choices", "use a listed transformer",
         {"vit_backbone": "vit_huge"}),
    Case("a patch that does not divide the image (`-p image_size 18`)", ("synco_vit",), "parameters",
         "ParameterError", r"4×4 patch grid .*does not divide image size 18; use a multiple of 4, e.g. 16 or 20",
         "use a size the patch grid divides", {"image_size": 18}),
    Case("a window of synthetic negatives that closes before it opens (`-p cooldown_epochs 0`)", ("synco_vit",),
         "parameters", "ParameterError", r"cooldown_epochs=0 closes the window of synthetic negatives before "
         r"warmup_epochs=1 opens it", "use cooldown_epochs ≥ warmup_epochs", {"cooldown_epochs": 0}),
    Case("an unknown teacher (`-p teacher resnet33`)", DISTILLATION, "parameters", "ParameterError",
         r"teacher='resnet33' is not one of the valid choices", "use a listed network", {"teacher": "resnet33"}),
    Case("a dataset that is not on disk (`-p dataset cifar10 -p data_root /empty`)", SELF_SUPERVISED + ("rrd",), "parameters",
         "DatasetNotFound", r"CIFAR-10 is not on disk under .*; pass download=True", "pass download=True, or point data_root at it",
         {"dataset": "cifar10", "data_root": "{empty folder}"}),
    Case("a data folder that does not exist (`-p data_root /no/such/folder`)", SELF_SUPERVISED + DISTILLATION,
         "parameters", "DatasetNotFound", r"data_root='.*' does not exist; point data_root at the folder",
         "point data_root at the datasets, or leave it unset", {"data_root": "{missing}"}),
    Case("a data folder that is a file (`-p data_root notes.txt`)", SELF_SUPERVISED + DISTILLATION, "parameters",
         "DatasetNotFound", r"data_root='.*' is a file, not a folder", "point data_root at a folder",
         {"data_root": "{file}"}),
    Case("a value that is not a number (`-p lr nan`, `-p lr inf`)", ALL, "parameters", "ParameterError",
         r"lr=nan is not a finite number", "give a finite number", {"lr": float("nan")}),
    Case("a clustering weight that is not a number (`-p cluster_weight nan`)", ("cueco",), "parameters",
         "ParameterError", r"cluster_weight=nan is not a finite number", "give a finite λ ≥ 0",
         {"cluster_weight": float("nan")}),
    Case("a dropout that zeroes every embedding (`-p dropout 1.0`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"dropout=1.0 is out of range: it must be below 1", "use a dropout below 1", {"dropout": 1.0}),
    Case("a training subset larger than the dataset (`-p train_subset 1000000000`)", ALL, "data", "ParameterError",
         r"train_subset=1,000,000,000 is larger than the .* images of .*; give at most",
         "give at most the number named (0: all)", {"train_subset": 1_000_000_000}),
    Case("more kNN neighbours than the bank holds (`-p knn_k 100000`)", SELF_SUPERVISED, "data", "ParameterError",
         r"knn_k=100,000 neighbours do not fit in .*; give knn_k at most", "give at most the number named",
         {"knn_k": 100_000}),
    Case("a kNN monitor with one image in its bank (`-p monitor_size 1`)", SELF_SUPERVISED, "data", "ParameterError",
         r"neighbours do not fit in the kNN monitor's bank \(monitor_size\), 1 images", "raise monitor_size (0: all)",
         {"monitor_size": 1}),
    Case("a queue larger than the machine's memory (`-p queue_size 1000000000`)", SELF_SUPERVISED, "data",
         "ParameterError", r"this run needs about .*the queue of keys .* free; lower queue_size",
         "lower the value named", {"queue_size": 1_000_000_000}),
    Case("a network wider than the machine's memory (`-p width 100000`)", RESNET_CHAPTERS, "data", "ParameterError",
         r"this run needs about .* free; lower width", "lower the value named", {"width": 100_000}),
    Case("images larger than the machine's memory (`-p image_size 100000`)", RESNET_CHAPTERS, "parameters",
         "ParameterError", r"this run needs about .* TB \(one step's activations.* free; lower width, batch_size or "
         r"image_size",
         "lower the value named", {"image_size": 100_000}),
    Case("a CIFAR batch file that would run code when loaded", ("foundations", "rrd"), "dataset file",
         "DatasetDamaged", r"is not a CIFAR batch file: it asks to load .*system, which the format never holds",
         "delete the folder and download the dataset again", {"dataset": "cifar10"}),
    Case("a dataset that is not on disk (`-p dataset cifar10 -p transfer_dataset cifar10 -p data_root /empty`)",
         ("dcd",), "parameters", "DatasetNotFound", r"CIFAR-10 is not on disk under .*; pass download=True",
         "pass download=True, or point data_root at it",
         {"dataset": "cifar10", "transfer_dataset": "cifar10", "data_root": "{empty folder}"}),
    Case("a device that is not there (`-p device cuda` without a GPU)", ALL, "parameters", "ParameterError",
         r"device='cuda' was requested but is not available here", "use device auto or cpu", {"device": "cuda"}),
    Case("a batch larger than the training subset", ALL, "parameters", "ParameterError",
         r"train_subset=32 is smaller than one batch", "raise train_subset or lower batch_size",
         {"train_subset": 32, "batch_size": 64}),
    Case("images too small for the networks (`-p image_size 2`)", ALL, "parameters", "ParameterError",
         r"image_size=2 is too small", "use 8 px or more, or 0", {"image_size": 2}),
    Case("a read-only results folder", ALL, "parameters", "ParameterError",
         r"results folder .* is not writable; set SSLLIB_RESULTS", "set SSLLIB_RESULTS to a writable folder",
         {"__read_only__": True}),
    Case("a hard set larger than the queue (`-p n_hard 5000`)", ("synco",), "parameters", "ParameterError",
         r"n_hard=5000 is larger than the queue", "use n_hard ≤ queue_size", {"n_hard": 5000}),
    Case("synthetic negatives that never start (`-p warmup_epochs 9`)", ("synco",), "parameters",
         "ParameterError", r"warmup_epochs=9 leaves no epoch with synthetic negatives", "use fewer warm-up epochs",
         {"warmup_epochs": 9}),
    Case("no clusters (`-p num_clusters 0`)", ("cueco",), "parameters", "ParameterError",
         r"num_clusters=0 is out of range: it must be at least 1", "use one cluster or more", {"num_clusters": 0}),
    Case("a negative clustering weight (`-p cluster_weight -1`)", ("cueco",), "parameters", "ParameterError",
         r"cluster_weight=-1.0 is out of range: it must be at least 0", "use λ ≥ 0 (0 is MoCo-v2)",
         {"cluster_weight": -1.0}),
    Case("more clusters than the keys they are fitted on (`-p num_clusters 5000`)", ("cueco",), "parameters",
         "ParameterError", r"num_clusters=5000 is more than the 256 queued keys", "use num_clusters ≤ queue_size",
         {"num_clusters": 5000}),
    Case("centroids that are never refreshed (`-p refresh_every 0`)", ("cueco",), "parameters", "ParameterError",
         r"refresh_every=0 is out of range: it must be at least 1", "refresh every step or more",
         {"refresh_every": 0}),
    Case("a clustering term that never starts (`-p cluster_warmup_epochs 9`)", ("cueco",), "parameters",
         "ParameterError", r"cluster_warmup_epochs=9 leaves no epoch with the clustering term",
         "use fewer warm-up epochs", {"cluster_warmup_epochs": 9}),
    Case("an RRD queue that does not take whole batches (`-p rrd_queue 1000`)", DISTILLATION, "parameters",
         "ParameterError", r"rrd_queue=1000 is not a multiple of batch_size", "use a multiple of the batch",
         {"rrd_queue": 1000}),
    Case("a transfer dataset with other colour channels (`-p transfer_dataset stl10`)", ("dcd",), "parameters",
         "ParameterError", r"transfer_dataset='stl10' has 3 colour channel\(s\)", "pick a dataset with as many",
         {"transfer_dataset": "stl10"}),
    Case("a teacher checkpoint that is not a file", DISTILLATION, "parameters", "ParameterError",
         r"teacher_checkpoint='/nowhere/t.pt' is not a file", "give the path of a checkpoint",
         {"teacher_checkpoint": "/nowhere/t.pt"}),
    Case("a domain the benchmark does not have (`-p domains photo,painting`)", RETRIEVAL, "parameters",
         "ParameterError", r"domains names 'painting', which fashion_mnist does not have; choose from photo, sketch, "
         r"negative", "use the listed domains, comma-separated", {"domains": "photo,painting"}),
    Case("one domain only (`-p domains photo,photo`)", RETRIEVAL, "parameters", "ParameterError",
         r"cross-domain retrieval needs at least two different domains", "name two domains or more",
         {"domains": "photo,photo"}),
    Case("P@K with K = 0 (`-p ks '[0]'`)", RETRIEVAL, "parameters", "ParameterError",
         r"ks=\(0\.0,\) is out of range: it must be at least 1", "use K ≥ 1", {"ks": (0,)}),
    Case("a K that is not whole (`-p ks '[1.5]'`)", RETRIEVAL, "parameters", "ParameterError",
         r"ks holds 1\.5; each K of P@K must be a whole number", "use whole numbers", {"ks": (1.5,)}),
    Case("a fusion weight outside [0, 1] (`-p fusion_weight 1.5`)", RETRIEVAL, "parameters", "ParameterError",
         r"fusion_weight=1\.5 is out of range: it must be at most 1", "use a weight from 0 to 1",
         {"fusion_weight": 1.5}),
    Case("a hub captioner without leave to download (`-p captioner Salesforce/blip-image-captioning-base`)",
         RETRIEVAL, "parameters", "ParameterError", r"captioner='Salesforce/blip-image-captioning-base' is neither "
         r"'stand-in' \(shipped offline\) nor a local folder; .* allow_download=True",
         "pass allow_download=True, or a local folder", {"captioner": "Salesforce/blip-image-captioning-base"}),
    Case("a benchmark folder that is not there (`-p benchmark office_home -p benchmark_root /empty`)", RETRIEVAL,
         "parameters", "DatasetNotFound", r"benchmark_root='.*' is not a folder: download office_home",
         "download the benchmark and point benchmark_root at it",
         {"benchmark": "office_home", "benchmark_root": "{empty}"}),
    Case("the stand-in captioner on a real benchmark (`-p benchmark office_home`)", RETRIEVAL, "parameters",
         "ParameterError", r"the stand-in captioner is trained on the Fashion-MNIST photo domain only",
         "name a Hugging Face captioner", {"benchmark": "office_home", "benchmark_root": "{existing}"}),
    Case("a gallery without a query's class (`-p images_per_domain 1`)", RETRIEVAL, "benchmark", "ValueError",
         r"the sketch gallery holds no image of class .*; raise images_per_domain", "keep more images per domain",
         {"images_per_domain": 1}),
    Case("an unknown MIL model (`-p mil_models abmil,clam`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"mil_models names 'clam'; choose from mean, max, abmil, transmil", "use the listed aggregators",
         {"mil_models": "abmil,clam"}),
    Case("more experts than training slides (`-p k_experts 500`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"k_experts=500 is more than the .* training slides of a fold", "use fewer experts or more bags",
         {"k_experts": 500}),
    Case("a bag size range upside down (`-p bag_min 30`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"bag_min=30 is larger than bag_max=8", "use bag_min ≤ bag_max", {"bag_min": 30}),
    Case("more witnesses than a bag holds (`-p max_witnesses 6`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"max_witnesses=6 does not fit a bag of bag_min=4 instances", "use max_witnesses ≤ bag_min",
         {"max_witnesses": 6}),
    Case("CLAM features without their folder (`-p benchmark clam`)", WHOLE_SLIDE, "parameters", "ParameterError",
         r"benchmark='clam' needs features_dir", "give features_dir, labels_csv and splits_dir",
         {"benchmark": "clam"}),
    Case("a CLAM folder that is not there", WHOLE_SLIDE, "parameters", "DatasetNotFound",
         r"features_dir='.*' is not there", "point it at the extracted features",
         {"benchmark": "clam", "features_dir": "{empty}", "labels_csv": "{empty}", "splits_dir": "{empty}"}),
    Case("a slide with no patches", WHOLE_SLIDE, "slides", "ValueError", r"bag 'slide_1' has no instance; remove it",
         "remove the slide from the labels and splits", damage="empty_bag"),
    Case("a feature file of another dimension", WHOLE_SLIDE, "slides", "ValueError",
         r"bag 'slide_1' has features of dimension 6, the first bag 4", "extract every slide with one extractor",
         damage="wrong_dim"),
    Case("a split naming a slide that has no features", WHOLE_SLIDE, "slides", "ValueError",
         r"splits_0.csv \(val\) names slide 'slide_9'", "fix the split file or add the slide",
         damage="missing_slide"),
    Case("a misspelt review parameter (`-p include_locl false`)", REVIEW, "parameters", "ParameterError",
         r"has no parameter 'include_locl'; did you mean 'include_local'", "use the suggested name",
         {"include_locl": False}),
    Case("a review switch that is not a boolean (`-p include_local maybe`)", REVIEW, "parameters", "ParameterError",
         r"include_local='maybe' has the wrong type: expected bool", "give True or False", {"include_local": "maybe"}),
    Case("an unknown profile among those shown (`-p profiles_shown cpu,gpu`)", REVIEW, "parameters",
         "ParameterError", r"profiles_shown='cpu,gpu': name profiles from smoke, cpu, paper",
         "list known profiles, comma-separated", {"profiles_shown": "cpu,gpu"}),
    Case("a ranking of runs the tables leave out (`-p profiles_shown paper -p ranking_profile cpu`)", REVIEW,
         "parameters", "ParameterError", r"ranking_profile='cpu' is not among profiles_shown='paper'",
         "add the profile to profiles_shown", {"profiles_shown": "paper", "ranking_profile": "cpu"}),
    Case("a truncated checkpoint of an earlier run", ALL, "run checkpoint", "CheckpointError",
         r"is damaged or truncated.*move it aside", "move it aside, or restore a good copy", damage="truncated"),
    Case("a checkpoint that holds no weights (a tensor)", ALL, "run checkpoint", "CheckpointError",
         r"holds a Tensor, not a dict of weights", "move it aside", damage="tensor"),
    Case("a checkpoint that would run code when loaded", ALL, "run checkpoint", "CheckpointError",
         r"only running its code could rebuild, which is refused", "move it aside; never load such files",
         damage="pickle"),
    Case("a checkpoint of another configuration in the run's folder", ALL, "run checkpoint", "CheckpointError",
         r"was written by another configuration; move it aside", "move it aside", damage="foreign"),
    Case("a teacher checkpoint of another architecture", DISTILLATION, "teacher checkpoint", "CheckpointError",
         r"holds a resnet20, not the resnet14", "name the network it was trained as", damage="architecture"),
    Case("a damaged teacher checkpoint", DISTILLATION, "teacher checkpoint", "CheckpointError",
         r"is damaged or truncated.*give the checkpoint of a trained resnet14", "give a good checkpoint",
         damage="truncated"),
    Case("a finished run's record edited by hand", ("foundations", "rrd"), "run record", "RecordError",
         r"does not match its digest: it was changed after the run wrote it; restore it",
         "git checkout the file, or delete the run's folder to train it again", damage="edited"),
    Case("a finished run's record that is not JSON", ("foundations", "rrd"), "run record", "RecordError",
         r"is not a readable run record .*; restore it", "git checkout the file, or delete the run's folder",
         damage="garbage"),
    Case("a second process starting a run that another is training", ("foundations", "rrd"), "busy", "RunBusy",
         r"is being trained by process \d+ .*wait for it to finish or stop it", "wait, or stop the other process"),
    Case("a full disk while a checkpoint is written", ALL, "disk", "WriteError",
         r"the disk is full.*unchanged", "free space or set SSLLIB_RESULTS elsewhere"),
    Case("a learning rate so high that the loss becomes NaN", ALL, "divergence", "TrainingDiverged",
         r"the loss became (nan|inf).*the settings that could cause it: lr=.*lower the learning rate first",
         "lower the learning rate, or the other settings named"),
)


def cases_for(chapter: str) -> list[Case]:
    return [c for c in CASES if chapter in c.chapters]


def _readable(pattern: str) -> str:
    """A message pattern as a reader sees the sentence: '.*' as '…', escapes and groups dropped."""
    text = pattern.replace(".*", " … ").replace("\\(", "(").replace("\\)", ")").replace("(nan|inf)", "nan")
    return " ".join(text.split("|")[0].split())


def markdown_table() -> str:
    """The README's troubleshooting table (every case, with the chapters it is tested in)."""
    rows = ["| what happened | chapters | what the book says (one sentence, before any training) | what to do |",
            "|---|---|---|---|"]
    for case in CASES:
        chapters = "all" if case.chapters == ALL else ", ".join(case.chapters)
        rows.append(f"| {case.situation} | {chapters} | {case.error}: … {_readable(case.message)} … | {case.fix} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
