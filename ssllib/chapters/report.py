"""Tables from measured results: mean ± std over seeds, with the protocol beside the numbers, and
the sentences that compare methods (paired over seeds, following the interval)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ssllib.evaluate.linear import probe_name  # noqa: F401 (the chapters name the probe through report)


def mean_std_table(rows: Iterable[dict], by: str, metrics: dict[str, str], order: list[str] | None = None):
    """Group ``rows`` (one dict per run) by ``by`` and give each metric's mean, std and a
    'mean ± std (n)' string. ``metrics`` maps a row key to the column title."""
    frame = pd.DataFrame(list(rows))
    out = {}
    for key, title in metrics.items():
        grouped = frame.groupby(by, sort=False)[key]
        out[f"{title} mean"] = grouped.mean()
        out[f"{title} std"] = grouped.std(ddof=1)
        out[f"{title} runs"] = grouped.count()
    table = pd.DataFrame(out)
    if order is not None:
        table = table.loc[[o for o in order if o in table.index]]
    return table


def formatted(table: pd.DataFrame, metrics: Iterable[str], digits: int = 2) -> pd.DataFrame:
    """'mean ± std' strings (just the mean for a single run) for display."""
    shown = {}
    for title in metrics:
        def cell(row, title=title):
            mean, std, n = row[f"{title} mean"], row[f"{title} std"], row[f"{title} runs"]
            if n > 1 and not np.isnan(std):
                return f"{mean:.{digits}f} ± {std:.{digits}f}"
            return f"{mean:.{digits}f}"
        shown[title] = table.apply(cell, axis=1)
    return pd.DataFrame(shown, index=table.index)


def comparisons(rows: Iterable[dict], pairs: Iterable[tuple[str, str]], key: str, by: str = "method",
                metric: str | None = None, unit: str = "points") -> list[str]:
    """One sentence per pair (a, b): the paired difference a − b of ``key`` over the seeds both
    ran, in words that follow its 95% interval (:mod:`ssllib.chapters.statistics`), with as
    many decimals as keep every bound off ±0; ``unit=''`` for a measure without one. A pair
    with fewer than two shared seeds gets no verdict, and says so."""
    from ssllib.chapters.statistics import compare

    rows = list(rows)
    out = []
    for a, b in pairs:
        try:
            out.append(compare(rows, by, a, b, key, metric).sentence(unit))
        except ValueError as err:
            out.append(f"{a} against {b} on {metric or key}: no verdict ({err}).")
    return out


@dataclass(frozen=True)
class NoVerdict:
    """A pair that could not be compared (fewer than two shared seeds), and why."""

    a: str
    b: str
    metric: str
    reason: str
    detected = False


def paired_differences(rows: Iterable[dict], pairs: Iterable[tuple[str, str]], keys: str | Iterable[str],
                       by: str = "method", metric: str | None = None) -> list:
    """The paired difference a − b (:func:`ssllib.chapters.statistics.compare`) of every pair
    on every key in ``keys`` (a key's name is the metric, unless ``metric`` names it), in that
    order; a pair with fewer than two shared seeds gives a :class:`NoVerdict`."""
    from ssllib.chapters.statistics import compare

    rows = list(rows)
    out = []
    for key in [keys] if isinstance(keys, str) else list(keys):
        for a, b in pairs:
            try:
                out.append(compare(rows, by, a, b, key, metric))
            except ValueError as err:
                out.append(NoVerdict(a, b, metric or key, str(err)))
    return out


def verdict(d) -> str:
    """The verdict word of one difference, following its interval: 'higher' or 'lower' only
    when the 95% interval excludes 0, otherwise 'no detectable difference'."""
    if isinstance(d, NoVerdict):
        return "no verdict: fewer than two shared seeds"
    if not d.detected:
        return "no detectable difference"
    return "higher" if d.mean > 0 else "lower"


def verdict_table(differences: Iterable, unit: str = "points", paired: str = "seeds") -> pd.DataFrame:
    """One row per difference: the comparison (a − b), the measure (left out when every row has
    the same), the mean difference and its 95% interval at the decimals of its sentence
    (:meth:`~ssllib.chapters.statistics.PairedDifference.digits`, so the numbers read the same),
    the number of paired seeds (or folds; said when every one gave the same difference) and the
    verdict word (:func:`verdict`)."""
    rows = []
    for d in differences:
        if isinstance(d, NoVerdict):
            rows.append({"comparison": f"{d.a} − {d.b}", "measure": d.metric, f"difference ({unit})" if unit else
                         "difference": None, "95% CI": None, f"paired {paired}": None, "verdict": verdict(d)})
            continue
        digits = d.digits()
        rows.append({"comparison": f"{d.a} − {d.b}", "measure": d.metric,
                     f"difference ({unit})" if unit else "difference": f"{d.mean:+.{digits}f}",
                     "95% CI": f"{d.low:+.{digits}f} to {d.high:+.{digits}f}",
                     f"paired {paired}": f"{d.n} (all the same)" if d.low == d.high else d.n,
                     "verdict": verdict(d)})
    frame = pd.DataFrame(rows)
    if len(frame) and frame["measure"].nunique() == 1:
        frame = frame.drop(columns="measure")
    return frame


def verdict_sentence(differences: Iterable, unit: str = "points", paired: str = "seeds", of: str = "") -> str:
    """One sentence for a table of differences: how many are detectable (their 95% interval
    excludes 0), naming them when there are few, and that the others are not; ``of`` says what
    they are ('between MoCo-v2 and its baselines'), else they are 'these'. One difference alone
    gets its own sentence (:meth:`~ssllib.chapters.statistics.PairedDifference.sentence`)."""
    differences = list(differences)
    judged = [d for d in differences if not isinstance(d, NoVerdict)]
    skipped = len(differences) - len(judged)
    unjudged = "" if not skipped else (f"; {skipped} comparison{'s' if skipped > 1 else ''} with fewer than two "
                                       f"shared {paired} {'have' if skipped > 1 else 'has'} no verdict")
    if not judged:
        return f"No pair shares two {paired}, so there is no verdict."
    if len(differences) == 1:
        return judged[0].sentence(unit).replace("paired seeds", f"paired {paired}")
    counts = sorted({d.n for d in judged})
    over = f"95% intervals over {counts[0]} paired {paired}" if len(counts) == 1 else f"95% intervals over paired {paired}"
    found = [d for d in judged if d.detected]
    of = f" {of.strip()}" if of else ""
    these = f"the {len(judged)} differences{of}" if of else f"these {len(judged)} differences"
    if not found:
        return f"None of {these} is detectable at this scale: every interval contains 0 ({over}{unjudged})."
    groups: dict[tuple, list[str]] = {}
    for d in found:
        groups.setdefault((d.a, "higher" if d.mean > 0 else "lower", d.b), []).append(d.metric)
    named = "; ".join(f"{a} {word} than {b} on {' and '.join(metrics)}" for (a, word, b), metrics in groups.items())
    if len(groups) > 6:
        higher = sum(d.mean > 0 for d in found)
        named = f"{higher} with the first named higher, {len(found) - higher} with it lower (the verdict column)"
    rest = len(judged) - len(found)
    if not rest:
        return f"All {len(judged)} differences{of or ' here'} are detectable, every interval excluding 0: {named} ({over}{unjudged})."
    others = ("; the other one shows no detectable difference at this scale" if rest == 1 else
              f"; the other {rest} show no detectable difference at this scale")
    return (f"{len(found)} of {these} {'is' if len(found) == 1 else 'are'} detectable, the interval excluding 0: "
            f"{named}{others} ({over}{unjudged}).")


def show_verdicts(differences: Iterable, caption: str, unit: str = "points", paired: str = "seeds") -> None:
    """A chapter's verdicts as one compact table (:func:`verdict_table`, numbered and captioned)
    and one sentence (:func:`verdict_sentence`); a single difference is its sentence alone."""
    from ssllib.chapters.tables import show

    differences = list(differences)
    if len(differences) > 1:
        show(verdict_table(differences, unit, paired), f"{caption.rstrip('.')}. {VERDICT_NOTE.format(paired=paired)}",
             index=False)
    print(verdict_sentence(differences, unit, paired))


VERDICT_NOTE = ("Difference: the first named minus the second, the mean over the {paired} both ran; 95% CI: "
                "Student's t over those {paired}; the verdict says higher or lower only when the interval excludes 0.")


def beside_caption(subject: str) -> str:
    """The caption of a chapter's :func:`beside_the_paper` table."""
    return (f"{subject}: ours and the published numbers, each row with its data, network, training epochs, protocol, "
            f"number of runs and source (ours: mean ± standard deviation over the seeds, the mean alone for one "
            f"run; published: as reported, with the spread where the source gives one).")


def claim_outcome(claim: str, differences: dict, subject: str, baseline: str) -> str:
    """The sentence that names what a run says about a paper's claim, from paired differences
    ``subject − baseline`` (``{what was compared: PairedDifference}``, higher meaning better
    for the claim). A difference counts only when it survives Holm's correction over all the
    comparisons passed (:func:`ssllib.chapters.statistics.holm`, family-wise 95%): with many
    comparisons, one interval excluding 0 is what chance alone gives. The run *supports* the
    claim when every comparison puts the subject ahead, *supports it only in part* when some do
    and none puts it behind, *goes against* it when some put it behind and none ahead, gives
    *mixed evidence* when they point both ways, and *does not support* it when none counts."""
    from ssllib.chapters.statistics import holm

    kept = holm(differences)
    ahead = [name for name, d in differences.items() if name in kept and d.mean > 0]
    behind = [name for name, d in differences.items() if name in kept and d.mean < 0]
    alone = [name for name, d in differences.items() if d.detected and name not in kept]
    if ahead and len(ahead) == len(differences):
        verdict = "supports"
    elif ahead and not behind:
        verdict = f"supports only in part ({', '.join(ahead)}; no detectable difference elsewhere)"
    elif behind and not ahead:
        verdict = "goes against"
    elif ahead and behind:
        verdict = "gives mixed evidence on"
    else:
        verdict = "does not support"
    listed = lambda names: f" ({', '.join(names)})" if names else ""  # noqa: E731
    rest = len(differences) - len(ahead) - len(behind)
    others = {0: "", 1: "; the other shows no detectable difference"}.get(
        rest, f"; the other {rest} show no detectable difference")
    corrected = "" if len(differences) == 1 else f", counting a difference only if it survives Holm's correction " \
        f"for {len(differences)} comparisons"
    chance = "" if not alone else (
        f" ({', '.join(alone)}: the interval excludes 0 on its own, but not once the "
        f"{len(differences)} comparisons are corrected for, so chance alone could give it)")
    return (f"{subject} is detectably ahead of {baseline} in {len(ahead)} of {len(differences)} comparisons"
            f"{listed(ahead)} and detectably behind in {len(behind)}{listed(behind)}{corrected}{others}{chance}. "
            f"At this scale the run {verdict} the claim that {claim}.")


SOURCES = {"trained": "trained now", "resumed": "trained now", "retrained": "trained now", "measured": "measured now",
           "committed": "read from the book's committed records", "local": "read from this machine's results",
           "re-keyed": "re-keyed after a bit-for-bit check of their first epoch under the current code"}


def provenance_of(runs) -> str:
    """Where the runs' results came from, in words (:attr:`ssllib.engine.runs.Result.source`)."""
    states = sorted({SOURCES.get(getattr(r, "source", "trained"), "trained now") for r in runs})
    return states[0] if len(states) == 1 else "partly " + ", partly ".join(states)


def training_summary(label: str, runs) -> str:
    """'<label>: 3 runs of 2 epochs, 2.9 min of training each (trained now)'; a teacher given
    as a checkpoint says so."""
    if getattr(runs[0], "given", False):
        return f"{label}: given as the checkpoint {runs[0].path}, not trained here"
    seconds = sum(r.record["wall_time_s"] for r in runs) / len(runs)
    took = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    state = provenance_of(runs)
    epochs = runs[0].config.epochs
    return f"{label}: {len(runs)} run{'s' if len(runs) > 1 else ''} of {epochs} epoch{'s' if epochs > 1 else ''}, " \
           f"{took} of training each ({state})"


BESIDE_COLUMNS = ("method", "from", "data", "network", "epochs", "protocol", "runs", "result")


def measured_entry(table: pd.DataFrame, method: str, metric: str, *, data: str, network: str, epochs,
                   protocol: str, title: str | None = None, digits: int = 2) -> dict:
    """One row of an 'ours beside the paper' table, from a :func:`mean_std_table`: the mean ±
    std over the seeds this run trained (the mean alone for one run)."""
    row = table.loc[method]
    runs = int(row[f"{metric} runs"])
    value = f"{row[f'{metric} mean']:.{digits}f}"
    if runs > 1 and not np.isnan(row[f"{metric} std"]):
        value += f" ± {row[f'{metric} std']:.{digits}f}"
    return {"method": title or method, "from": "this run", "data": data, "network": network, "epochs": epochs,
            "protocol": protocol, "runs": runs, "result": value}


def published_entry(method: str, value, source: str, *, data: str, network: str, epochs, protocol: str,
                    std: float | None = None, runs: int | None = None) -> dict:
    """One published row of an 'ours beside the paper' table, with its source; ``value`` is a
    number (shown as published, to 2 decimals) or a string such as 'AP50 82.4, AP 57.0'."""
    shown = value if isinstance(value, str) else f"{value:.2f}"
    if std is not None and not pd.isna(std):
        shown += f" ± {std:.2f}"
    return {"method": method, "from": f"published: {source}", "data": data, "network": network, "epochs": epochs,
            "protocol": protocol, "runs": "n/a" if runs is None or pd.isna(runs) else int(runs), "result": shown}


def published_runs(method: str, runs, std=None) -> str:
    """How many runs stand behind a published number, as reported.csv records it: 'MoCo-v2:
    5 runs, std 0.10', 'SynCo: one run', or 'SynCo: runs not stated'."""
    if runs is None or pd.isna(runs):
        return f"{method}: runs not stated"
    if int(runs) == 1:
        return f"{method}: one run"
    spread = "" if std is None or pd.isna(std) else f", std {float(std):.2f}"
    return f"{method}: {int(runs)} runs{spread}"


def beside_the_paper(entries: Iterable[dict]):
    """The curated comparison of a chapter: one row per number, ours and published, each with
    its protocol, budget, number of runs and source (shown without an index column)."""
    from ssllib.chapters.tables import whole

    frame = pd.DataFrame(list(entries), columns=list(BESIDE_COLUMNS))
    frame["epochs"] = frame["epochs"].map(lambda e: "n/a" if e is None or pd.isna(e) else whole(e))
    frame["runs"] = frame["runs"].map(whole)
    return frame


def accuracy_caption(data, cfg, seeds: int) -> str:
    """What a chapter's accuracy table measured, from the run itself: the test set and its size,
    the seeds, the kNN protocol and bank, the linear probe (and so, at any profile, the right data)."""
    from ssllib.chapters.selfsup_experiments import raw_pixels_side
    from ssllib.data.registry import dataset_info
    from ssllib.evaluate.linear import SGD_PROTOCOLS

    title = dataset_info(data.test.name).title
    side = raw_pixels_side(data.size)
    spread = f"mean ± standard deviation over {seeds} seeds" if seeds > 1 else "one seed, so no spread"
    if cfg.probe == "lbfgs":
        probe = "an L-BFGS logistic-regression probe on frozen standardised features of the same images"
    else:
        recipe = SGD_PROTOCOLS[cfg.probe]
        probe = (f"a linear layer on frozen features of the same images trained by SGD, {recipe.source}'s protocol "
                 f"({cfg.probe_epochs} epochs, batch {cfg.probe_batch_size}, lr {cfg.probe_lr:g})")
    return (f"Top-1 accuracy (%) on the {title} test set ({len(data.test):,} images), {spread}; kNN: k={cfg.knn_k}, "
            f"T={cfg.knn_t:g}, cosine, the {len(data.bank):,} training images as the bank; linear: {probe}; last "
            f"epoch. Raw pixels: the images at {side}×{side} px, flattened.")
