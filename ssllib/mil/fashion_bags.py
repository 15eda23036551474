"""Bags made from Fashion-MNIST: the MIL analogue of the MNIST-bags benchmark, built so that the
training bags come from distinct sub-populations with rules of their own.

A *population* is a set of background classes and one witness class. A bag of population p
holds n instances (n drawn uniformly from ``bag_sizes``), all of its background classes; a
positive bag (label 1, half of them) has 1 to ``max_witnesses`` of them replaced by instances of
p's witness class. The default populations make the rules conflict: a dress among tops is
positive, while a sandal among shoes is background, and a sandal among trousers and bags is
positive. One aggregator has to learn all three rules at once; an expert per population needs
only its own, which is the heterogeneity Divide-and-Distill is meant to exploit.

Instances are distinct images (drawn without replacement while the pool lasts); a bag's
instance features come from any frozen encoder (``features`` (N, d) for ``labels`` (N,)), and
its population is returned beside it, never given to a model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ssllib.mil.bags import Bags

# Fashion-MNIST classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
# 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
POPULATIONS = (
    ("tops", (0, 2, 4, 6), 3),        # a dress among tops
    ("shoes", (5, 7, 9), 8),          # a bag among shoes
    ("legwear", (1, 8), 5),           # a sandal among trousers and bags
)


@dataclass
class GeneratedBags:
    bags: Bags
    population: torch.Tensor          # (bags,) index into ``populations``
    populations: tuple
    instance_labels: list[torch.Tensor]   # each bag's instances' classes (for the pictures)
    instance_index: list[torch.Tensor]    # each bag's instances' rows of ``features`` (their images)


def make_bags(features, labels: torch.Tensor, bags_per_population: int = 100,
              bag_sizes: tuple[int, int] = (8, 24), max_witnesses: int = 3, populations=POPULATIONS,
              seed: int = 0, source: str = "", source_setting: str | None = None,
              dim: int | None = None) -> GeneratedBags:
    """Bags of ``features`` rows as described above, labels balanced within each population.
    Which rows a bag holds depends on ``labels`` and ``seed`` only, so ``features`` may be a
    function that computes the (N, d) table, called only when the bags' features are first used;
    ``source`` names the table (the encoder run) in the bags' identity, ``source_setting`` in
    their setting (the encoder run's setting); ``dim`` is the table's width, where known without it."""
    low, high = bag_sizes
    if not 1 <= max_witnesses <= low:
        raise ValueError(f"max_witnesses={max_witnesses} must be from 1 to the smallest bag size {low}")
    gen = torch.Generator().manual_seed(seed)
    pools = {c: torch.nonzero(labels == c).flatten() for c in torch.unique(labels).tolist()}
    pools = {c: p[torch.randperm(len(p), generator=gen)] for c, p in pools.items()}
    used = {c: 0 for c in pools}

    def take(cls: int, n: int) -> torch.Tensor:
        pool = pools[cls]
        picks = torch.arange(used[cls], used[cls] + n) % len(pool)   # without replacement while it lasts
        used[cls] += n
        return pool[picks]

    bag_labels, ids, population, instance_labels, instance_index = [], [], [], [], []
    for p, (name, background, witness) in enumerate(populations):
        for j in range(bags_per_population):
            n = int(torch.randint(low, high + 1, (1,), generator=gen))
            positive = j % 2 == 1
            witnesses = int(torch.randint(1, max_witnesses + 1, (1,), generator=gen)) if positive else 0
            classes = torch.tensor(background)[torch.randint(len(background), (n - witnesses,), generator=gen)]
            members = [take(int(c), 1) for c in classes] + [take(witness, witnesses)]
            index = torch.cat(members)
            index = index[torch.randperm(len(index), generator=gen)]
            instance_labels.append(labels[index])
            instance_index.append(index)
            bag_labels.append(int(positive))
            ids.append(f"{name}-{j:04d}")
            population.append(p)
    recipe = f"|bags {bags_per_population}×{len(populations)} of {low}-{high}, ≤{max_witnesses} witnesses, " \
             f"populations {list(populations)}, seed {seed}"
    setting = (source if source_setting is None else source_setting) + recipe
    if callable(features):
        bags = Bags.lazy(features, instance_index, torch.tensor(bag_labels), ids, ["negative", "positive"],
                         source + recipe, setting, dim)
    else:
        bags = Bags([features[i].float() for i in instance_index], torch.tensor(bag_labels), ids,
                    ["negative", "positive"], source + recipe, instance_index, source_setting=setting)
    return GeneratedBags(bags, torch.tensor(population), tuple(populations), instance_labels, instance_index)
