"""Where each method of the book sits among the review's five families of discriminative
self-supervised learning, and the wider field's published ImageNet table.

The families (as the review's abstract names them), in one line each:

- **contrastive**: pull two views of one image together and push other images away (InfoNCE
  over a batch or a queue of negatives);
- **clustering**: assign views to clusters or prototypes and predict one view's assignment from
  the other;
- **self-distillation**: a student network predicts a momentum or stop-gradient teacher's output
  for another view, with no negatives;
- **knowledge distillation**: a small student learns from a trained teacher's outputs or
  representations;
- **feature decorrelation**: make the embedding's dimensions informative and decorrelated across
  a batch, without negatives.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ssllib.review.published import PAPERS_DIR, read_table

FAMILIES = ("contrastive", "clustering", "self-distillation", "knowledge distillation", "feature decorrelation")

# (method, family, also draws on, chapter, what it adds), in book order.
BOOK_METHODS = (
    ("MoCo-v2", "contrastive", "", "foundations", "a momentum key encoder and a queue of negatives"),
    ("MoCHI", "contrastive", "", "synco", "hard negatives mixed from the queue's nearest keys"),
    ("SynCo", "contrastive", "", "synco", "six kinds of synthetic hard negatives made in representation space"),
    ("MoBY", "contrastive", "self-distillation", "synco_vit", "MoCo-style queues with BYOL's predictor and "
     "symmetric loss, for vision transformers"),
    ("MoBY + synthetic negatives", "contrastive", "self-distillation", "synco_vit",
     "SynCo's negatives inside MoBY's loss"),
    ("CueCo", "contrastive", "clustering", "cueco", "a clustering objective over the key features beside the "
     "contrastive loss"),
    ("KD", "knowledge distillation", "", "rrd", "the teacher's softened class probabilities"),
    ("CRD", "knowledge distillation", "contrastive", "rrd", "a contrastive bound between teacher and student "
     "embeddings over a memory of negatives"),
    ("RRD", "knowledge distillation", "contrastive", "rrd", "the teacher's relations to a memory of its "
     "embeddings, matched with a sharper student temperature"),
    ("DCD", "knowledge distillation", "contrastive", "dcd", "a contrastive term with a learnt temperature and "
     "bias, plus consistency between the two distributions"),
    ("Caption-Matching", "outside the five", "", "cdir", "no training: retrieval across domains through "
     "captions written by a pre-trained captioner"),
    ("Divide-and-Distill", "knowledge distillation", "clustering", "wsi", "experts for clusters of training "
     "slides, distilled into one multiple-instance model"),
)


def book_methods() -> pd.DataFrame:
    return pd.DataFrame(BOOK_METHODS, columns=["method", "family", "also draws on", "chapter", "what it adds"])


def field_table(path: str | Path = PAPERS_DIR / "review" / "field.csv") -> pd.DataFrame:
    """The wider field's ImageNet ResNet-50 linear results (``papers/review/field.csv``), each
    row with its source and the file line it came from."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    tidy = read_table(path, paper="review")
    return tidy.assign(family=raw["family"].values, note=raw["note"].values)


def length_effects(field: pd.DataFrame) -> list[str]:
    """For each method the field table gives at more than one pre-training length: its values
    from the shortest to the longest, the change from first to last, and whether it ever falls
    as the length grows (published numbers only; the differences are computed here)."""
    lines = []
    timed = field.dropna(subset=["pretrain_epochs"])
    for method, group in timed.groupby("method", sort=False):
        if group["pretrain_epochs"].nunique() < 2:
            continue
        group = group.sort_values("pretrain_epochs")
        values = group["value"].tolist()
        steps = " → ".join(f"{v:g} at {int(e)}" for e, v in zip(group["pretrain_epochs"], values))
        rises = all(b >= a for a, b in zip(values, values[1:]))
        lines.append(f"{method}: {steps} epochs ({values[-1] - values[0]:+.1f}; "
                     f"{'never lower at a longer length' if rises else 'lower at some longer length'})")
    return lines


def field_gap(field: pd.DataFrame, method: str, baseline: str) -> str:
    """``method`` minus ``baseline`` at each pre-training length the field table gives both."""
    timed = field.dropna(subset=["pretrain_epochs"])
    a = timed[timed["method"] == method].set_index("pretrain_epochs")["value"]
    b = timed[timed["method"] == baseline].set_index("pretrain_epochs")["value"]
    shared = sorted(set(a.index) & set(b.index))
    if not shared:
        return f"{method} and {baseline} share no pre-training length in the field table"
    return f"{method} − {baseline}: " + ", ".join(f"{a[e] - b[e]:+.1f} at {int(e)} epochs" for e in shared)
