"""The review chapter: the five families with every method of the book placed in them, the
field's ImageNet table, and every published and reproduced number of the book side by side.

It trains nothing. It reads ``papers/*/reported.csv``, the records committed under
``papers/*/runs/`` and (unless told not to) the local ledger, so it builds in seconds; a paper
without records says so instead of showing an empty table.
"""
from __future__ import annotations

import math
import re

import pandas as pd
from scipy import stats

from ssllib.chapters.spec import PROFILES, ChapterSpec, Settings, resolve
from ssllib.engine.params import Param, ParameterError
from ssllib.review import summary as summaries
from ssllib.review.records import Records

# The book's chapters that produce records, in book order, with the paper slug their records carry.
PAPERS = {"foundations": "Foundations: MoCo-v2 and its baselines", "synco": "SynCo", "synco-vit": "SynCo for ViTs (MoBY)",
          "cueco": "CueCo", "rrd": "RRD (and the distillation benchmark)", "dcd": "DCD", "cdir": "Caption-Matching",
          "wsi": "Divide-and-Distill"}

CPU = dict(include_local=True, profiles_shown="cpu,paper", ranking_profile="cpu")
PAPER = dict(CPU, ranking_profile="paper")
SMOKE = dict(CPU, profiles_shown="smoke,cpu,paper", ranking_profile="smoke")


def profile_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def check_review(settings) -> None:
    for name in ("profiles_shown", "ranking_profile"):
        unknown = [p for p in profile_list(settings[name]) if p not in PROFILES]
        if unknown or not profile_list(settings[name]):
            raise ParameterError(f"{name}={settings[name]!r}: name profiles from {', '.join(PROFILES)} "
                                 f"(comma-separated)")
    if settings.ranking_profile not in profile_list(settings.profiles_shown):
        raise ParameterError(f"ranking_profile={settings.ranking_profile!r} is not among profiles_shown="
                             f"{settings.profiles_shown!r}; add it there or rank another profile")


REVIEW = ChapterSpec(
    name="review",
    params={
        "include_local": Param("include_local", bool, "read the local ledger (results/ledger/) as well as the "
                               "records committed under papers/*/runs/"),
        "profiles_shown": Param("profiles_shown", str, "the profiles whose runs the tables show, comma-separated"),
        "ranking_profile": Param("ranking_profile", str, "the profile whose runs the rankings figure draws"),
    },
    profiles={"smoke": SMOKE, "cpu": CPU, "paper": PAPER},
    notes={"smoke": "the same tables, with the smoke runs of the tests included",
           "cpu": "every published number and every cpu and paper run the book can see",
           "paper": "every published number, the rankings drawn on paper-profile runs"},
    checks=(check_review,),
)


def resolve_settings(given: dict) -> Settings:
    return resolve(REVIEW, given, check_data=False)


def method_label(name: str) -> str:
    """A record's method as tables name it (the registry's title where it has one)."""
    from ssllib.engine.registry import method
    try:
        return method(name).label
    except (KeyError, ValueError, ParameterError):
        return name


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", name.lower())


def reproduced_table(reproduced: pd.DataFrame, records: Records, paper: str, metric: str | None = None) -> pd.DataFrame:
    """One paper's variants (its headline metric unless ``metric``), curated for reading: the
    method, what sets the variant apart, setting, mean ± std, 95% interval, seeds, protocol and
    the records it came from."""
    rows = reproduced[reproduced["paper"] == paper]
    if rows.empty:
        return rows
    metric = metric or summaries.headline_metric(rows)
    rows = rows[rows["metric"] == metric]
    differences = summaries.variant_differences(records, paper)
    out = pd.DataFrame({
        "method": [method_label(m) for m in rows["method"]],
        "variant": [differences.get(v, "") for v in rows["variant"]],
        "dataset": rows["dataset"], "network": rows["backbone"], "teacher": rows["teacher"],
        "profile": rows["profile"], "epochs": rows["epochs"], "metric": rows["metric"],
        "mean ± std": [_mean_std(m, s) for m, s in zip(rows["mean"], rows["std"])],
        "95% CI": [_interval(lo, hi, seeds) for lo, hi, seeds in zip(rows["low"], rows["high"], rows["seed list"])],
        "seeds": rows["seeds"], "protocol": rows["protocol"], "records": rows["records"]})
    return out.loc[:, [c for c in out.columns if not (out[c] == "").all()]].reset_index(drop=True)


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def _interval(low: float, high: float, seeds: str) -> str:
    if math.isnan(low):
        return "one seed: no interval" if seeds else "no seed (deterministic)"
    return f"{low:.2f} to {high:.2f}"


def published_table(reported: pd.DataFrame, paper: str) -> pd.DataFrame:
    rows = reported[reported["paper"] == paper]
    return rows.drop(columns=["paper"]).dropna(axis=1, how="all").reset_index(drop=True)


def ranking_agreement(reported: pd.DataFrame, reproduced: pd.DataFrame, paper: str) -> pd.DataFrame:
    """For each published setting of ``paper`` (dataset, network, epochs, setting, metric) that
    ranks at least two methods the book also ran: those methods' published values against our
    means at the headline metric, and Kendall's τ between the two orders (1: the same order)."""
    ours = reproduced[reproduced["paper"] == paper]
    metric = summaries.headline_metric(ours) if len(ours) else None
    if metric is None:
        return pd.DataFrame()
    ours = ours[ours["metric"] == metric]
    # One value per method: the variant with the most seeds (the chapter's main comparison).
    ours = ours.sort_values("seeds", ascending=False).drop_duplicates("method")
    by_key = {_key(method_label(m)): row for m, row in zip(ours["method"], ours.to_dict("records"))}
    published = reported[reported["paper"] == paper]
    out = []
    group_keys = ["dataset", "backbone", "pretrain_epochs", "setting", "metric"]
    for key, group in published.groupby(group_keys, dropna=False, sort=False):
        common = [(r, by_key[_key(r["method"])]) for r in group.to_dict("records") if _key(r["method"]) in by_key]
        if len({_key(r["method"]) for r, _ in common}) < 2:
            continue
        tau = stats.kendalltau([r["value"] for r, _ in common], [o["mean"] for _, o in common]).statistic
        setting = ", ".join(str(v) for v in key if v is not None and not (isinstance(v, float) and math.isnan(v))
                            and v is not pd.NA)
        out.append({"published setting": setting, "methods": ", ".join(r["method"] for r, _ in common),
                    "published": ", ".join(f"{r['value']:g}" for r, _ in common),
                    f"ours ({metric}, {common[0][1]['profile']})": ", ".join(f"{o['mean']:.2f}" for _, o in common),
                    "Kendall τ": tau, "published rows": ", ".join(r["row"] for r, _ in common)})
    return pd.DataFrame(out)


def no_runs_sentence(paper: str) -> str:
    chapter = paper.replace("-", "_")
    return (f"No runs of this paper yet, neither committed under papers/{paper}/runs/ nor in the local ledger: "
            f"executing book/{chapter}.ipynb writes them.")


def show_reproduced(reproduced: pd.DataFrame, records: Records, paper: str) -> None:
    """Display one paper's variants at its headline metric, or say that it has no runs yet."""
    from IPython.display import display
    table = reproduced_table(reproduced, records, paper)
    if table.empty:
        print(no_runs_sentence(paper))
        return
    display(table.drop(columns=["protocol", "records"]).set_index("method"))


def show_sources(reported: pd.DataFrame, reproduced: pd.DataFrame, records: Records, paper: str) -> None:
    """Display the paper's published rows (with the CSV line of each) and every metric of every
    variant with its protocol and records."""
    from IPython.display import display
    from ssllib.review.published import PAPERS_DIR
    rows = published_table(reported, paper)
    if len(rows):
        print(f"published: {len(rows)} rows of papers/{paper}/reported.csv")
    elif not (PAPERS_DIR / paper).is_dir():
        print(f"published: none; {paper} is the book's own chapter of baselines, not a paper")
    else:
        print(f"published: none; papers/{paper}/ has no reported.csv (its README and chapter say why)")
    if len(rows):
        display(rows.set_index("method"))
    ours = reproduced[reproduced["paper"] == paper]
    if ours.empty:
        print(no_runs_sentence(paper))
        return
    print(f"reproduced: {len(ours)} (variant, metric) pairs")
    tables = [reproduced_table(reproduced, records, paper, metric) for metric in ours["metric"].unique()]
    display(pd.concat(tables, ignore_index=True).set_index("method"))


def ranking_panels(reproduced: pd.DataFrame, profile: str, min_seeds: int = 3) -> tuple[dict, dict]:
    """For the rankings figure: paper title → its variants with ``min_seeds`` or more seeds at
    ``profile`` (label, mean, low, high, seeds), and paper title → the metric drawn."""
    panels, metrics = {}, {}
    rows = reproduced[(reproduced["profile"] == profile) & (reproduced["seeds"] >= min_seeds)]
    for paper, title in PAPERS.items():
        ours = rows[rows["paper"] == paper]
        metric = summaries.headline_metric(ours) if len(ours) else None
        if metric is None:
            continue
        ours = ours[ours["metric"] == metric].sort_values("mean", ascending=False)
        labels = [method_label(m) for m in ours["method"]]
        # Variants of one method at the same network and dataset differ in a setting: number them.
        seen: dict[str, int] = {}
        named = []
        for label, network, teacher in zip(labels, ours["backbone"], ours["teacher"]):
            base = label if not teacher else f"{label} ({teacher} → {network})"
            seen[base] = seen.get(base, 0) + 1
            named.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
        panels[title] = pd.DataFrame({"label": named, "mean": ours["mean"].values, "low": ours["low"].values,
                                      "high": ours["high"].values, "seeds": ours["seeds"].values})
        metrics[title] = f"{metric} (%)"
    return panels, metrics


def agreement_sentence(agreement: pd.DataFrame) -> str:
    """How many published settings our runs rank in the same, the reverse, or a mixed order."""
    taus = agreement["Kendall τ"].dropna()
    same, reversed_ = int((taus == 1).sum()), int((taus == -1).sum())
    return (f"Of {len(agreement)} published settings, our runs rank the shared methods in the same order in {same}, "
            f"in the reverse order in {reversed_}, and in a partly agreeing order in {len(taus) - same - reversed_}"
            + (f"; {len(agreement) - len(taus)} have ties that leave τ undefined." if len(taus) < len(agreement) else "."))
