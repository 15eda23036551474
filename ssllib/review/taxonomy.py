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
