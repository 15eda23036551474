"""One run against the mean of several seeds: the sentence a chapter prints for it.

A single run (a teacher trained once, say) has no spread of its own, so no paired difference
and no interval of a difference can be made with it. What can be said is where it lies against
the group's mean over seeds and that mean's 95% t interval (:func:`ssllib.review.summary.interval`,
the review's own, so the chapter and the review print the same bounds):

- inside the interval: the run cannot be told apart from the group's mean, and the sentence
  says so with no direction word;
- outside it: the sentence says on which side, still as one run (its own spread is unknown);
- fewer than two seeds in the group: no interval, and the sentence says that and nothing more.

Kept apart from :mod:`ssllib.chapters.statistics`, which every chapter imports: a chapter is
stale when a module it imported changes, so this module makes only the chapters that use it stale.
"""
from __future__ import annotations

import math
from typing import Iterable

from ssllib.review.summary import interval


def single_against_mean(name_single: str, value: float, name_group: str, values: Iterable[float], *,
                        unit: str = "points", digits: int = 2,
                        bounds: tuple[float, float] = (-math.inf, math.inf)) -> str:
    """Where the one run ``name_single`` (``value``) lies against the mean of ``name_group``'s
    ``values`` (one per seed) and its 95% t interval, cut to ``bounds`` ((0, 100) for a
    percentage, as the review's tables). One sentence; a direction word only when ``value`` lies
    outside the interval."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError(f"{name_group} has no values to set {name_single} against")
    n, mean = len(values), sum(values) / len(values)
    single = f"{name_single} (one run) {value:.{digits}f}"
    if n < 2:
        return (f"{single} against {name_group} {mean:.{digits}f} (one seed, so no interval): two single runs, "
                f"which cannot be compared.")
    low, high = interval(values, bounds)
    group = (f"the mean of {name_group} over {n} seeds, {mean:.{digits}f} "
             f"(95% CI {low:.{digits}f} to {high:.{digits}f})")
    if low <= value <= high:
        return (f"{single} lies inside the interval of {group}: one run that cannot be told apart from "
                f"that mean at this scale.")
    side = "above" if value > high else "below"
    unit = f" {unit}" if unit else ""
    return (f"{single} lies {side} the interval of {group}, {abs(value - mean):.{digits}f}{unit} from the mean; "
            f"it is one run, so its own spread is unknown.")
