"""k-fold splits of a set of bags into train, validation and test, stratified by label: fold i
tests on part i, validates on part i + 1 (mod k) and trains on the rest, so every bag is tested
exactly once and no fold shares a bag between its parts."""
from __future__ import annotations

import torch

from ssllib.mil.bags import Bags, check_disjoint


def stratified_folds(bags: Bags, k: int = 5, seed: int = 0, strata: torch.Tensor | None = None) -> list[dict]:
    """``k`` splits ``{"train", "val", "test"}`` of bag ids; ``strata`` (default: the labels)
    are spread evenly over the parts."""
    if k < 3:
        raise ValueError(f"k={k} folds: train, validation and test parts need k ≥ 3")
    strata = bags.labels if strata is None else strata
    gen = torch.Generator().manual_seed(seed)
    parts: list[list[int]] = [[] for _ in range(k)]
    for value in torch.unique(strata).tolist():
        members = torch.nonzero(strata == value).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        offset = int(torch.randint(k, (1,), generator=gen))
        for j, m in enumerate(members.tolist()):
            parts[(j + offset) % k].append(m)
    if min(len(p) for p in parts) == 0:
        raise ValueError(f"{len(bags)} bags are too few for {k} folds")
    folds = []
    for i in range(k):
        test, val = parts[i], parts[(i + 1) % k]
        train = [m for j, p in enumerate(parts) if j not in (i, (i + 1) % k) for m in p]
        split = {name: [bags.ids[m] for m in sorted(ms)] for name, ms in (("train", train), ("val", val), ("test", test))}
        check_disjoint(split, f"fold {i}")
        folds.append(split)
    return folds
