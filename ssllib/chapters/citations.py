"""What the book cites for every method, network, dataset and tool it names.

One list for the whole book (``CITED``: a name as the pages write it → its keys in
``book/references.bib``), used three ways:

- the tests check that each chapter's prose cites every name it uses, and that the first page
  cites every paper of the book (``tests/test_citations.py``);
- the browser check finds these names in the first column and the header of every rendered table,
  and asks that the page link to each one's reference (``tests/browser.py``);
- the book's index lists each name with the pages that cite it (``book/_ext/citation_index.py``).

Citations live in a chapter's markdown, never in code output (Jupyter Book parses the ``{cite}``
role in markdown cells only), so a table made by code is cited in the sentence that introduces it.

Names match whole words, case-sensitively, longest first: "MoCo-v2+" is MoCo-v2 (and the solo-learn
library that names it so), not MoCo; "DCD+KD" is DCD and KD; "Tiny ImageNet" is not ImageNet.
"""
from __future__ import annotations

import re
from functools import lru_cache

# name → keys. The first name of a key is the one the index shows.
CITED: dict[str, tuple[str, ...]] = {
    # the book's eight papers
    "SynCo": ("giakoumoglou2024synco",),
    "MoBY + synthetic negatives": ("giakoumoglou2025synco_vit", "xie2021moby"),
    "CueCo": ("giakoumoglou2025cueco",),
    "RRD": ("giakoumoglou2024rrd",),
    "DCD": ("giakoumoglou2024dcd",),
    "Caption-Matching": ("iijima2026cdir",),
    "Divide-and-Distill": ("papadopoulos2026wsi",),
    "D&D": ("papadopoulos2026wsi",),
    # self-supervised learning
    "MoCo": ("he2020moco",),
    "MoCo v1": ("he2020moco",),
    "MoCo-v2": ("chen2020mocov2",),
    "MoCo v2": ("chen2020mocov2",),
    "MoCo-v2+": ("chen2020mocov2", "dacosta2022sololearn"),
    "MoCo-v3": ("chen2021mocov3",),
    "MoCo v3": ("chen2021mocov3",),
    "MoCHI": ("kalantidis2020mochi",),
    "MoBY": ("xie2021moby",),
    "SimCLR": ("chen2020simclr",),
    "BYOL": ("grill2020byol",),
    "SwAV": ("caron2020swav",),
    "DeepCluster": ("caron2018deepcluster",),
    "DeepCluster-v2": ("caron2020swav",),
    "SeLa": ("asano2020sela",),
    "SeLa-v2": ("caron2020swav", "asano2020sela"),
    "DINO": ("caron2021dino",),
    "SimSiam": ("chen2021simsiam",),
    "Barlow Twins": ("zbontar2021barlow",),
    "VICReg": ("bardes2022vicreg",),
    "InfoNCE": ("oord2018cpc",),
    "instance discrimination": ("wu2018instdisc",),
    # knowledge distillation
    "KD": ("hinton2015kd",),
    "FitNet": ("romero2015fitnets",),
    "AT": ("zagoruyko2017at",),
    "CRD": ("tian2020crd",),
    # cross-domain retrieval
    "UCDIR": ("hu2022ucdir",),
    "ProtoOT": ("li2024protoot",),
    "CoDA": ("wang2023coda",),
    "BLIP": ("li2022blip",),
    "Sentence-BERT": ("reimers2019sbert",),
    "sentence-transformers": ("reimers2019sbert",),
    "MiniLM": ("wang2020minilm",),
    "all-MiniLM-L6-v2": ("wang2020minilm", "reimers2019sbert"),
    # multiple-instance learning
    "ABMIL": ("ilse2018abmil",),
    "abmil": ("ilse2018abmil",),
    "TransMIL": ("shao2021transmil",),
    "transmil": ("shao2021transmil",),
    "mean-MIL": ("wang2018minet",),
    "max-MIL": ("wang2018minet",),
    "CLAM": ("lu2021clam",),
    "MNIST-bags": ("ilse2018abmil",),
    "fairlets": ("chierichetti2017fairlets",),
    # networks
    "ResNet": ("he2016resnet",),
    "ResNet-18": ("he2016resnet",),
    "ResNet-50": ("he2016resnet",),
    "ResNet50": ("he2016resnet",),
    "Wide ResNet": ("zagoruyko2016wrn",),
    "VGG": ("simonyan2015vgg",),
    "MobileNetV2": ("sandler2018mobilenetv2",),
    "ShuffleNet": ("zhang2018shufflenet",),
    "ShuffleV1": ("zhang2018shufflenet",),
    "ShuffleNetV2": ("ma2018shufflenetv2",),
    "ShuffleV2": ("ma2018shufflenetv2",),
    "ViT": ("dosovitskiy2021vit",),
    "ViT-S": ("dosovitskiy2021vit",),
    "ViT-S/16": ("dosovitskiy2021vit",),
    "DeiT": ("touvron2021deit",),
    "DeiT-S": ("touvron2021deit",),
    "Swin": ("liu2021swin",),
    "Swin-T": ("liu2021swin",),
    # datasets
    "Fashion-MNIST": ("xiao2017fashion",),
    "CIFAR": ("krizhevsky2009cifar",),
    "CIFAR-10": ("krizhevsky2009cifar",),
    "CIFAR-100": ("krizhevsky2009cifar",),
    "ImageNet": ("deng2009imagenet",),
    "ImageNet-1k": ("deng2009imagenet",),
    "ImageNet-100": ("tian2020cmc", "deng2009imagenet"),
    "Tiny ImageNet": ("le2015tinyimagenet",),
    "STL-10": ("coates2011stl10",),
    "Office-Home": ("venkateswara2017officehome",),
    "DomainNet": ("peng2019domainnet",),
    "Camelyon16": ("bejnordi2017camelyon",),
    "TCGA": ("weinstein2013tcga",),
    "BRACS": ("brancati2022bracs",),
    # tools
    "t-SNE": ("vandermaaten2008tsne",),
    "timm": ("wightman2019timm",),
    "solo-learn": ("dacosta2022sololearn",),
    "AdamW": ("loshchilov2019adamw",),
    "stochastic depth": ("huang2016stochasticdepth",),
}

# Keys the index names though no page names them with a word of ``CITED``.
INDEX_ONLY = {"giakoumoglou2024review": "review of discriminative self-supervised learning",
              "giakoumoglou2025synco_vit": "SynCo for vision transformers",
              "tian2020cmc": "ImageNet-100"}

# Network names as the distillation benchmark writes them (resnet32x4, wrn_40_2, vgg13, …).
PATTERNS: dict[str, tuple[str, ...]] = {
    r"resnet\d+(?:x4)?": ("he2016resnet",),
    r"wrn_\d+_\d+": ("zagoruyko2016wrn",),
    r"vgg\d+": ("simonyan2015vgg",),
}


@lru_cache(maxsize=1)
def _matcher() -> re.Pattern:
    names = sorted(CITED, key=len, reverse=True)
    alternatives = [re.escape(n) for n in names] + [f"(?:{p})" for p in PATTERNS]
    return re.compile(r"(?<![\w-])(" + "|".join(alternatives) + r")(?![\w])")


def keys_for(name: str) -> tuple[str, ...]:
    """The references of one name the matcher found."""
    if name in CITED:
        return CITED[name]
    for pattern, keys in PATTERNS.items():
        if re.fullmatch(pattern, name):
            return keys
    raise KeyError(name)


def named_in(text: str) -> dict[str, tuple[str, ...]]:
    """Every name of ``CITED`` (or network pattern) in ``text`` → its keys (a line break counts
    as a space: "Tiny\nImageNet" is Tiny ImageNet)."""
    text = re.sub(r"\s+", " ", text)
    return {m.group(1): keys_for(m.group(1)) for m in _matcher().finditer(text)}


CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]*)`")


def cited_in(markdown: str) -> set[str]:
    """The keys that ``{cite}`…``` roles in ``markdown`` cite."""
    return {key.strip() for group in CITE_ROLE.findall(markdown) for key in group.split(",")}


def uncited(markdown: str) -> dict[str, tuple[str, ...]]:
    """Names ``markdown`` uses without citing all their keys anywhere in it: name → missing keys."""
    cited = cited_in(markdown)
    return {name: missing for name, keys in named_in(markdown).items()
            if (missing := tuple(k for k in keys if k not in cited))}


def index_names() -> dict[str, str]:
    """key → the name the book's index shows for it (the first name ``CITED`` gives it)."""
    shown: dict[str, str] = dict(INDEX_ONLY)
    for name, keys in CITED.items():
        if len(keys) == 1:
            shown.setdefault(keys[0], name)
    return shown
