"""The reproduced numbers summarised over seeds, and how one experiment's variants differ.

A *variant* is one method under one configuration (everything but the seed and the machine):
its records are the seeds of one experiment. A record that scores several retrieval directions
is first averaged over them, and the parts of one replicate (the experts of a fold's clusters)
over the parts, so each seed (or fold) counts once.

For a variant with n ≥ 2 seeds, mean x̄, sample standard deviation s:

    95% interval = x̄ ± t₀.₉₇₅,ₙ₋₁ · s / √n        (Student's t over seeds)

One seed gives a value and no interval. Every metric a record holds is a percentage, so the
interval is cut to [0, 100]: near a bound (an AUC of 99 with a wide spread) the t interval can
pass a value the metric cannot take, and the part beyond it holds no possible mean.
"""
from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from ssllib.review.records import Records

KEYS = ["paper", "method", "variant", "dataset", "backbone", "teacher", "profile", "epochs", "evaluation", "metric"]
# The metric a paper's ranking is drawn on: the first of these its records hold.
HEADLINE = ("knn_top1", "test_top1", "test_top1_best", "mAP", "test_auc", "linear_top1")


# What a variant's protocol reads when its seeds did not share one (the linear probe's
# regularisation is chosen per run, for example).
PROTOCOL_VARIES = "differs between seeds"


def per_seed(records: Records) -> pd.DataFrame:
    """One row per (replicate, metric): a record's directions averaged, then the parts of the
    replicate (its runs: one, or the expert of each cluster of a fold), with how many of each
    there were; ``run_id`` the first run, ``source`` every record it came from."""
    table = records.table
    if table.empty:
        return table.assign(directions=pd.Series(dtype=int), parts=pd.Series(dtype=int))
    keyed = table.assign(**{k: table[k].astype(object).where(table[k].notna(), "") for k in KEYS})
    per_run = keyed.groupby([*KEYS, "replicate", "seed", "run_id"], dropna=False, sort=False).agg(
        value=("value", "mean"), directions=("direction", "count"), protocol=("protocol", "first"),
        device=("device", "first"), commit=("commit", "first"), where=("where", "first"),
        source=("source", "first")).reset_index()
    grouped = per_run.groupby([*KEYS, "replicate", "seed"], dropna=False, sort=False)
    return grouped.agg(value=("value", "mean"), directions=("directions", "max"), parts=("run_id", "size"),
                       protocol=("protocol", "first"), device=("device", "first"), commit=("commit", "first"),
                       where=("where", "first"), source=("source", ", ".join), run_id=("run_id", "first"),
                       run_ids=("run_id", list)).reset_index()


def shown(profile: str, profiles: tuple[str, ...]) -> bool:
    """Whether runs filed under ``profile`` belong to the ``profiles`` a table shows: a profile's
    own runs, and its runs with a changed recipe (``paper-custom`` with ``paper``); dry runs
    (``paper-tiny``) only where named, since their numbers mean nothing."""
    return profile in profiles or (profile.endswith("-custom") and profile.removesuffix("-custom") in profiles)


def interval(values, bounds: tuple[float, float] = (0.0, 100.0)) -> tuple[float, float]:
    """The 95% t interval of the mean of ``values``, cut to ``bounds`` (NaN, NaN for fewer than two)."""
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return max(mean - half, bounds[0]), min(mean + half, bounds[1])


def reproduced(records: Records, profiles: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Mean, standard deviation and 95% interval over seeds of every variant's metric, with
    the seeds, the protocol, the devices and the records it came from."""
    rows = per_seed(records)
    if profiles is not None and len(rows):
        rows = rows[rows["profile"].map(lambda p: shown(p, profiles))]
    out = []
    for key, group in rows.groupby(KEYS, sort=False):
        low, high = interval(group["value"])
        protocols = group["protocol"].unique()
        out.append({**dict(zip(KEYS, key)), "mean": group["value"].mean(),
                    "std": group["value"].std() if len(group) > 1 else math.nan, "low": low, "high": high,
                    "seeds": len(group), "seed list": "; ".join(r.removeprefix("seed ") for r in group["replicate"] if r != "seed None"),
                    "directions": int(group["directions"].max()), "parts": int(group["parts"].max()),
                    "protocol": protocols[0] if len(protocols) == 1 else PROTOCOL_VARIES,
                    "device": ", ".join(sorted(set(group["device"].dropna()))),
                    "commit": ", ".join(sorted({str(c)[:12] for c in group["commit"].dropna()})),
                    "records": ", ".join(group["source"]),
                    "run ids": list(dict.fromkeys(r for ids in group["run_ids"] for r in ids))})
    columns = [*KEYS, "mean", "std", "low", "high", "seeds", "seed list", "directions", "parts", "protocol", "device",
               "commit", "records", "run ids"]
    return pd.DataFrame(out, columns=columns)


def variant_settings(records: Records, paper: str) -> dict[str, dict]:
    """For each variant of ``paper``, the configuration values that set it apart from the
    other variants of the same method on the same network under the same evaluation (name →
    value; empty when the method has one variant there; the network is a column of its own): a transfer probe of a network is set against the other
    transfer probes of its method, not against the network's own training."""
    table = records.table[records.table["paper"] == paper]
    settings = {}
    for _, group in table.groupby(["method", "evaluation", "backbone"], sort=False, dropna=False):
        variants = group.drop_duplicates("variant")[["variant", "run_id"]].values.tolist()
        configs = {v: records.configs[run] for v, run in variants}
        keys = sorted({k for c in configs.values() for k in c})
        differing = [k for k in keys if len({repr(c.get(k)) for c in configs.values()}) > 1]
        for v, config in configs.items():   # a variant scored under several evaluations: what any sets apart
            settings[v] = {**settings.get(v, {}), **{k.removeprefix("options."): config.get(k) for k in differing}}
    return settings


def settings_line(items: dict) -> str:
    """A variant's distinguishing settings as one line: 'n_hard=16, t=0.2' ('' for none)."""
    return ", ".join(f"{k}={value}" for k, value in items.items())


def variant_differences(records: Records, paper: str) -> dict[str, str]:
    """:func:`variant_settings` as one line per variant ('n_hard=16, …'; '' for a method's only variant)."""
    return {v: settings_line(items) for v, items in variant_settings(records, paper).items()}


def headline_metric(summary: pd.DataFrame) -> str | None:
    """The metric a paper's ranking is drawn on (:data:`HEADLINE`), or None."""
    present = set(summary["metric"])
    return next((m for m in HEADLINE if m in present), None)


# Where a headline metric is measured under several evaluations (a distillation paper's test
# accuracy on its own dataset and its transfer probes' on another), the one its ranking is drawn on.
HEADLINE_EVALUATIONS = ("kNN", "test", "retrieval", "linear")


def headline_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``summary`` a paper's ranking is drawn on: its headline metric, under the
    first of :data:`HEADLINE_EVALUATIONS` the metric was measured by (never a transfer probe
    beside the networks it probes)."""
    metric = headline_metric(summary) if len(summary) else None
    if metric is None:
        return summary.iloc[:0]
    rows = summary[summary["metric"] == metric]
    present = set(rows["evaluation"])
    evaluation = next((e for e in HEADLINE_EVALUATIONS if e in present), None)
    return rows if evaluation is None else rows[rows["evaluation"] == evaluation]
