"""Paired comparisons over seeds, and the one sentence each chapter prints for them.

Two methods run on the same seeds share their data order, initial weights and augmentation
stream as far as their code allows, so the comparison is made on the per-seed differences
d_s = a_s − b_s. With n seeds, mean d̄ and sample standard deviation s_d, the 95% interval is

    d̄ ± t₀.₉₇₅,ₙ₋₁ · s_d / √n        (Student's t over seeds; ``scipy.stats.t``)

and the sentence follows it: "higher"/"lower" only when the interval excludes 0, otherwise
"no detectable difference at this scale". One seed gives no interval and no verdict.

A claim tested by several comparisons at once (one per epoch, per metric, per network) would
find one interval excluding 0 by chance alone in about one family of twenty comparisons, so
the verdict on a claim counts only the differences that survive Holm's step-down correction
(``holm``): sort the m two-sided p-values, p₍₁₎ ≤ … ≤ p₍ₘ₎, and keep p₍ᵢ₎ while
p₍ᵢ₎ ≤ α / (m − i + 1), stopping at the first that fails (family-wise error ≤ α).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    """a − b over the seeds both have: the mean, its confidence interval and the seeds used."""

    a: str
    b: str
    metric: str
    mean: float
    low: float
    high: float
    seeds: tuple
    level: float = 0.95

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def detected(self) -> bool:
        """Whether the interval excludes 0."""
        return self.low > 0 or self.high < 0

    @property
    def p_value(self) -> float:
        """The two-sided p-value of the paired t test of a − b = 0, read back from the interval
        (its half-width is t₀.₉₇₅,ₙ₋₁ · s_d/√n)."""
        t_crit = float(stats.t.ppf(0.5 + self.level / 2, self.n - 1))
        se = (self.high - self.low) / 2 / t_crit
        if se == 0:
            return 0.0 if self.mean != 0 else 1.0
        return float(2 * stats.t.sf(abs(self.mean) / se, self.n - 1))

    def digits(self, least: int = 2, most: int = 4) -> int:
        """The fewest decimals, from ``least`` up to ``most``, at which neither bound of the
        interval nor the mean prints as ±0 when it is not 0: a bound of −0.004 shows as −0.004,
        not −0.00, so the verdict that follows the interval can be read off it."""
        def hides(value: float, d: int) -> bool:
            return value != 0 and round(abs(value), d) == 0

        digits = least
        while digits < most and any(hides(v, digits) for v in (self.low, self.high, self.mean)):
            digits += 1
        return digits

    def interval(self, digits: int | None = None) -> str:
        """'95% CI +0.40 to +2.00', at :meth:`digits` decimals unless ``digits`` is given."""
        digits = self.digits() if digits is None else digits
        return f"{round(self.level * 100)}% CI {self.low:+.{digits}f} to {self.high:+.{digits}f}"

    def sentence(self, unit: str = "points", digits: int | None = None) -> str:
        """'A is higher than B on top-1 by 1.20 points (95% CI +0.40 to +2.00; 3 paired seeds).'
        or, when the interval contains 0, 'No detectable difference …'; at :meth:`digits`
        decimals unless ``digits`` is given, and ``unit=''`` for a measure without one."""
        digits = self.digits() if digits is None else digits
        unit = f" {unit}" if unit else ""
        where = f"{self.interval(digits)}; {self.n} paired seeds"
        if self.low == self.high:
            where += ", every one with the same difference"
        if not self.detected:
            return (f"No detectable difference between {self.a} and {self.b} on {self.metric} at this scale: "
                    f"{self.a} − {self.b} = {self.mean:+.{digits}f}{unit} ({where}).")
        word = "higher" if self.mean > 0 else "lower"
        return f"{self.a} is {word} than {self.b} on {self.metric} by {abs(self.mean):.{digits}f}{unit} ({where})."


def paired_difference(a: Mapping, b: Mapping, names: tuple[str, str] = ("A", "B"), metric: str = "the metric",
                      level: float = 0.95) -> PairedDifference:
    """The paired difference ``a − b`` of two ``{seed: value}`` maps over the seeds both hold.

    Fewer than two shared seeds is refused: one difference has no spread, so no interval."""
    seeds = tuple(sorted(set(a) & set(b)))
    if len(seeds) < 2:
        raise ValueError(f"comparing {names[0]} with {names[1]} needs at least 2 seeds run by both "
                         f"(they share {len(seeds)}: {list(seeds)}); run more seeds, e.g. -p seeds 3")
    if not 0 < level < 1:
        raise ValueError(f"level={level} must be between 0 and 1 (0.95 for a 95% interval)")
    diffs = [float(a[s]) - float(b[s]) for s in seeds]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return PairedDifference(names[0], names[1], metric, mean, mean - half, mean + half, seeds, level)


def holm(differences: Mapping[str, PairedDifference], alpha: float = 0.05) -> set:
    """The names of the differences that stay detectable when the family of comparisons is
    corrected by Holm's step-down method at family-wise level ``alpha`` (see the module's
    docstring). One comparison is kept exactly when its own interval excludes 0."""
    ordered = sorted(differences, key=lambda name: differences[name].p_value)
    kept = set()
    for i, name in enumerate(ordered):
        if differences[name].p_value > alpha / (len(ordered) - i):
            break
        kept.add(name)
    return kept


def by_seed(rows: Iterable[Mapping], by: str, label: str, key: str, seed: str = "seed") -> dict:
    """``{seed: row[key]}`` for the rows whose ``by`` column is ``label`` (one row per run)."""
    out = {}
    for row in rows:
        if row[by] == label:
            if row[seed] in out:
                raise ValueError(f"{label!r} has two runs with seed {row[seed]}; pass one row per run")
            out[row[seed]] = row[key]
    return out


def compare(rows: Iterable[Mapping], by: str, a: str, b: str, key: str, metric: str | None = None,
            level: float = 0.95) -> PairedDifference:
    """The paired difference of ``key`` between the runs labelled ``a`` and ``b`` in ``rows``
    (one dict per run, with a ``seed``)."""
    rows = list(rows)
    return paired_difference(by_seed(rows, by, a, key), by_seed(rows, by, b, key), (a, b), metric or key, level)


def paired_by_epoch(a: Mapping, b: Mapping, metric: str = "knn_monitor", names: tuple[str, str] = ("A", "B"),
                    level: float = 0.95, label: str | None = None) -> list[tuple[int, PairedDifference]]:
    """The paired difference at every epoch both sides measured ``metric``: ``a`` and ``b`` map
    a seed to that run's history (a list of per-epoch dicts with 'epoch'); ``label`` names the
    metric in the sentences (default: its key)."""
    def at(histories):
        return {seed: {h["epoch"]: h[metric] for h in history if metric in h} for seed, history in histories.items()}
    a_at, b_at = at(a), at(b)
    epochs = sorted(set.intersection(*(set(v) for v in (*a_at.values(), *b_at.values()))))
    return [(epoch, paired_difference({s: v[epoch] for s, v in a_at.items()}, {s: v[epoch] for s, v in b_at.items()},
                                      names, f"{label or metric} after epoch {epoch}", level)) for epoch in epochs]
