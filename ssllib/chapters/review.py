"""The review chapter: the five families with every method of the book placed in them, the
field's ImageNet table, and every published and reproduced number of the book side by side.

It trains nothing. It reads ``papers/*/reported.csv``, the records committed under
``papers/*/runs/`` and (unless told not to) the local ledger, so it builds in seconds; a paper
without records says so instead of showing an empty table.
"""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

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

# The book's review reads the committed records only, so every clone shows the same numbers; the
# tests' smoke runs are local, and include_local=True adds a reader's own.
CPU = dict(include_local=False, profiles_shown="cpu,paper", ranking_profile="cpu")
PAPER = dict(CPU, ranking_profile="paper")
SMOKE = dict(CPU, include_local=True, profiles_shown="smoke,cpu,paper", ranking_profile="smoke")


# What a record can be filed under: a profile, its dry run, its changed recipe (Settings.record_profile).
NAMEABLE = (*PROFILES, *(f"{p}-{kind}" for p in PROFILES for kind in ("tiny", "custom")))
# The profiles the book builds itself; rows of any other (a reader's GPU run) name their device,
# commit and what they changed in the recipe.
BOOK_PROFILES = ("smoke", "cpu")


def profile_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def check_review(settings) -> None:
    for name in ("profiles_shown", "ranking_profile"):
        unknown = [p for p in profile_list(settings[name]) if p not in NAMEABLE]
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
           "cpu": "every published number and every committed cpu and paper run",
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
    """A method's name for matching a published row with our runs: what a parenthesis adds
    ('MoBY (authors' reproduction)', 'Teacher (cross-entropy)') and all but letters, digits and +
    left out."""
    return re.sub(r"[^a-z0-9+]", "", re.sub(r"\s*\(.*?\)", "", name).lower())


# A distillation chapter's runs of the plain cross-entropy baseline, by the network they train:
# the teacher's network, or a student's trained alone (the published tables' Teacher and Student).
BASELINE = "ce"


def row_labels(rows: pd.DataFrame) -> list[str]:
    """Each row's method as tables name it: the registry's title; the cross-entropy baseline of
    a distillation paper as its Teacher (on a network the paper's students learn from) or its
    Student trained alone; a replicate made of parts (the experts of a fold's clusters) says so."""
    teachers = {t for t in rows["teacher"] if t} if "teacher" in rows else set()
    labels = []
    for method, backbone, parts in zip(rows["method"], rows["backbone"], rows.get("parts", [1] * len(rows))):
        label = method_label(method)
        if method == BASELINE and teachers:
            label = "Teacher (cross-entropy)" if backbone in teachers else "Student (cross-entropy, alone)"
        labels.append(f"{label}, the mean of each fold's {parts}" if parts and parts > 1 else label)
    return labels


NUMBERS = ("mean", "low", "high")   # the numeric columns reproduced_table keeps with numbers=True


def reproduced_table(reproduced: pd.DataFrame, records: Records, paper: str, metric: str | None = None,
                     numbers: bool = False, evaluation: str | None = None) -> pd.DataFrame:
    """One paper's variants (its headline rows, :func:`~ssllib.review.summary.headline_rows`,
    unless ``metric`` and ``evaluation`` are named), curated for reading: the
    method, what sets the variant apart, setting, mean ± std, 95% interval, seeds, protocol and
    the records it came from. With ``numbers``, also the mean and interval as numbers
    (:data:`NUMBERS`), in the same rows, so that a figure drawn from the table labels each value
    with its own row."""
    rows = reproduced[reproduced["paper"] == paper]
    if rows.empty:
        return rows
    rows = rows[rows["metric"] == metric] if metric else summaries.headline_rows(rows)
    if evaluation:
        rows = rows[rows["evaluation"] == evaluation]
    settings = summaries.variant_settings(records, paper)
    out = pd.DataFrame({
        "method": row_labels(rows),
        "variant": [summaries.settings_line(settings.get(variant, {})) for variant in rows["variant"]],
        "variant settings": [settings.get(variant, {}) for variant in rows["variant"]],
        "dataset": rows["dataset"], "network": rows["backbone"], "teacher": rows["teacher"],
        "profile": rows["profile"], "epochs": rows["epochs"], "metric": rows["metric"],
        "mean ± std": [_mean_std(m, s) for m, s in zip(rows["mean"], rows["std"])],
        "95% CI": [_interval(lo, hi, seeds) for lo, hi, seeds in zip(rows["low"], rows["high"], rows["seed list"])],
        "seeds": rows["seeds"], "protocol": rows["protocol"],
        **elsewhere_columns(rows, records), "records": rows["records"],
        **({name: rows[name].values for name in NUMBERS} if numbers else {})})
    if len(rows) and rows["seed list"].str.contains("fold").all():   # cross-validated: the replicates are folds
        out = out.rename(columns={"seeds": "folds"})
    # A method's variants together, in the order of what sets them apart (cluster 0, 1, 2).
    order = {m: i for i, m in enumerate(dict.fromkeys(out["method"]))}
    out = out.iloc[sorted(range(len(out)), key=lambda i: (order[out["method"].iat[i]], out["variant"].iat[i]))]
    return out.loc[:, [c for c in out.columns if c == "variant settings" or not (out[c] == "").all()]
                   ].reset_index(drop=True)


def elsewhere_columns(rows: pd.DataFrame, records: Records) -> dict[str, list[str]]:
    """For rows of runs the book did not build itself (the paper profile run on a GPU): the
    device, the commit and what the run changed in its chapter's recipe; empty for the book's
    own rows, so a table of those has no such columns."""
    own = [p in BOOK_PROFILES for p in rows["profile"]]
    return {"device": ["" if o else d for o, d in zip(own, rows["device"])],
            "commit": ["" if o else c for o, c in zip(own, rows["commit"])],
            "overrides": ["" if o else recipe_overrides(paper, profile, records.configs.get(ids[0], {}))
                          for o, paper, profile, ids in zip(own, rows["paper"], rows["profile"], rows["run ids"])]}


def recipe_overrides(paper: str, profile: str, setting: dict) -> str:
    """What a run (its flattened configuration, ``setting``) changed in its chapter's recipe at
    the profile it was filed under (``paper-custom`` → ``paper``), where and how left out; the
    run is set against the recipe's run of the same method that it differs from least.
    'the recipe' when it changed nothing, '' where the chapter makes no runs of its own."""
    from ssllib.chapters import chapter_specs
    from ssllib.chapters.launch import run_configs
    from ssllib.chapters.spec import WHERE_AND_HOW
    from ssllib.review.records import NOT_THE_SETTING, flatten

    spec = chapter_specs().get(paper.replace("-", "_"))
    if spec is None or not setting:
        return ""
    base = profile.split("-")[0]
    given = {"profile": base}
    if "dataset" in spec.params and setting.get("dataset"):
        given["dataset"] = setting["dataset"]  # the recipe's overlay for that dataset
    try:
        recipes = run_configs(spec, resolve(spec, given, check_data=False))
    except (ParameterError, ValueError):
        return ""
    ignored = set(WHERE_AND_HOW) | set(NOT_THE_SETTING)

    def changed(recipe: dict) -> dict:
        flat = flatten(recipe)
        return {k: v for k, v in setting.items() if k.split(".")[-1] not in ignored and k in flat and flat[k] != v
                and not (isinstance(v, list) and tuple(v) == flat[k])}
    same_method = [r for r in recipes.values() if r.get("method") == setting.get("method")]
    if not same_method:
        return ""
    least = min((changed(r) for r in same_method), key=len)
    default_dataset = resolve(spec, {"profile": base}, check_data=False).get("dataset") if "dataset" in given else None
    if default_dataset is not None and default_dataset != setting.get("dataset"):
        least = {"dataset": setting["dataset"], **least}
    return summaries.settings_line({k.removeprefix("options."): v for k, v in least.items()}) or "the recipe"


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def _interval(low: float, high: float, seeds: str) -> str:
    if math.isnan(low):
        return "one seed: no interval" if seeds else "no seed (deterministic)"
    return f"{low:.2f} to {high:.2f}"


def published_table(reported: pd.DataFrame, paper: str) -> pd.DataFrame:
    rows = reported[reported["paper"] == paper]
    return rows.drop(columns=["paper"]).dropna(axis=1, how="all").reset_index(drop=True)


# Network families a published backbone and one of ours can share (a DeiT-S row is matched with
# our ViT runs, a Swin-T row with our Swin runs); other backbones are matched with the main variant.
NETWORK_FAMILIES = {"swin": ("swin",), "vit": ("vit", "deit")}


def _network_family(name) -> str | None:
    text = str(name or "").lower()
    return next((family for family, words in NETWORK_FAMILIES.items() if any(w in text for w in words)), None)


def _defaults_kept(name: str, settings: dict) -> int:
    """How many of a variant's distinguishing settings are its method's declared defaults."""
    from ssllib.engine.registry import method
    try:
        defaults = {option: default for option, (_, default) in method(name).options.items()}
    except (KeyError, ValueError, ParameterError):
        return 0
    return sum(1 for k, v in settings.items() if k in defaults and defaults[k] == v)


def measure_token(metric: str) -> str:
    """What a run's metric measures, as a published metric would name it: 'knn_top1' → 'top1',
    'test_auc' → 'auc', 'P@15' → 'p@15', 'mAP' → 'map'."""
    return re.sub(r"^(knn_monitor|knn|linear|test|teacher|val)_", "", metric).replace("_", "").lower()


def measures(published_metric: str, metric: str) -> bool:
    """Whether a published metric ('top-1 (%) k 10', 'linear probe top-1 (%), …') measures what
    our ``metric`` does (top-1 is not top-5; P@1 is not P@15)."""
    token = measure_token(metric)
    words = re.sub(r"[^a-z0-9@]+", " ", str(published_metric).lower().replace("-", ""))
    return bool(token) and re.search(rf"(?<![a-z0-9@]){re.escape(token)}(?![a-z0-9@])", words) is not None


def our_metric(ours: pd.DataFrame, evaluation: str, published_metric: str) -> str | None:
    """The metric of ours that stands against a published row: measured by the same evaluation
    (:mod:`ssllib.review.evaluations`) and measuring the same thing, the paper's headline
    (:data:`~ssllib.review.summary.HEADLINE`) first; None where we have none."""
    present = list(dict.fromkeys(ours.loc[ours["evaluation"] == evaluation, "metric"]))
    ordered = [m for m in summaries.HEADLINE if m in present] + [m for m in present if m not in summaries.HEADLINE]
    return next((m for m in ordered if measures(published_metric, m)), None)


def agreement_pairs(reported: pd.DataFrame, reproduced: pd.DataFrame, paper: str,
                    records: Records | None = None) -> pd.DataFrame:
    """One row per (published setting of ``paper``, method) where that setting ranks at least
    two methods the book also ran, measured the same way: the published value, our mean and 95%
    interval, the profile, the CSV line, and which of our variants stands for the method.

    A published setting is one source kind (the paper's own table, or a literature row it
    lists), evaluation, dataset, network, length, table and metric. Our number for it is the
    metric of the same evaluation that measures the same thing (:func:`our_metric`): a
    published linear accuracy is set against our linear probe, a kNN accuracy against our kNN,
    a transfer result against our transfer probes. Of our variants of a method (``variant``,
    with ``records``), the one on the published network's family (ViT, Swin) where there is
    such, with the most seeds, and among equals the one that keeps the method's declared defaults."""
    columns = ["paper", "published setting", "method", "published", "ours", "low", "high", "evaluation", "metric",
               "profile", "variant", "row"]
    ours_all = reproduced[reproduced["paper"] == paper]
    if ours_all.empty:
        return pd.DataFrame(columns=columns)
    ours_all = ours_all.assign(label=row_labels(ours_all)).sort_values("seeds", ascending=False, kind="stable")
    settings = summaries.variant_settings(records, paper) if records is not None else {}

    def ours_for(rows: pd.DataFrame, method: str, backbone) -> dict | None:
        found = [r for r in rows.to_dict("records") if _key(r["label"]) == _key(method)]
        # most seeds first; among equals, the method's declared defaults
        found.sort(key=lambda r: (-r["seeds"], -_defaults_kept(r["method"], settings.get(r["variant"], {}))))
        family = _network_family(backbone)
        same = [r for r in found if family and _network_family(r["backbone"]) == family]
        return (same or found or [None])[0]
    published = reported[reported["paper"] == paper]
    out = []
    group_keys = ["kind", "evaluation", "dataset", "backbone", "pretrain_epochs", "setting", "metric"]
    for key, group in published.groupby(group_keys, dropna=False, sort=False):
        evaluation, published_metric = key[1], key[-1]
        metric = our_metric(ours_all, evaluation, published_metric)
        if metric is None:
            continue
        rows = ours_all[(ours_all["evaluation"] == evaluation) & (ours_all["metric"] == metric)]
        common = [(r, o) for r in group.to_dict("records") if (o := ours_for(rows, r["method"], r.get("backbone")))]
        if len({_key(r["method"]) for r, _ in common}) < 2:
            continue
        setting = ", ".join(str(v) for v in key[2:] if v is not None and not (isinstance(v, float) and math.isnan(v))
                            and v is not pd.NA)
        if key[0] != "the paper's table":
            setting += f" ({key[0]})"
        out += [{"paper": paper, "published setting": setting, "method": r["method"], "published": r["value"],
                 "ours": o["mean"], "low": o["low"], "high": o["high"], "evaluation": evaluation, "metric": metric,
                 "profile": o["profile"], "variant": summaries.settings_line(settings.get(o["variant"], {})),
                 "row": r["row"]} for r, o in common]
    return pd.DataFrame(out, columns=columns)


def variants_used(pairs: pd.DataFrame) -> str:
    """Which of our variants stands for a method that ran in several, as one sentence ('' if none)."""
    named = pairs[pairs["variant"].astype(bool)]
    if named.empty:
        return ""
    said = []
    for (paper, method), group in named.groupby(["paper", "method"], sort=False):
        variants = list(dict.fromkeys(group["variant"]))
        said.append(f"{method} ({paper}): {' or '.join(variants)}"
                    + (", by the published row's network" if len(variants) > 1 else ""))
    return "Where a method ran in several variants, the comparison uses: " + "; ".join(said) + "."


def ranking_agreement(reported: pd.DataFrame, reproduced: pd.DataFrame, paper: str,
                      records: Records | None = None) -> pd.DataFrame:
    """For each published setting of ``paper`` that ranks at least two methods the book also ran
    (:func:`agreement_pairs`, with the same choice of variant as the figure and its sentence when
    given the ``records``): those methods' published values against our means, and Kendall's
    τ between the two orders (1: the same order)."""
    pairs = agreement_pairs(reported, reproduced, paper, records)
    out = []
    for setting, group in pairs.groupby("published setting", sort=False):
        tau = stats.kendalltau(group["published"], group["ours"]).statistic
        out.append({"published setting": setting, "methods": ", ".join(group["method"]),
                    "published": ", ".join(f"{v:g}" for v in group["published"]),
                    "ours": ", ".join(f"{v:.2f}" for v in group["ours"]),
                    "ours as": f"{group['metric'].iloc[0]}, {group['profile'].iloc[0]}",
                    "Kendall τ": tau, "published rows": ", ".join(group["row"])})
    return pd.DataFrame(out)


def no_runs_sentence(paper: str) -> str:
    chapter = paper.replace("-", "_")
    return (f"No runs of this paper yet, neither committed under papers/{paper}/runs/ nor in the local ledger: "
            f"executing book/{chapter}.ipynb writes them.")


# A printed line in the book's text column (monospace) holds about this many characters.
LINE = 78


def _wrapped(text: str) -> str:
    return textwrap.fill(text, LINE, break_long_words=False, break_on_hyphens=False, subsequent_indent="  ")


def _settings_of(table: pd.DataFrame) -> pd.DataFrame:
    """The columns that place a row (dataset, network, profile, epochs, metric) as short words."""
    out = pd.DataFrame(index=table.index)

    def given(column):
        return [("" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v)
                for v in table[column]] if column in table else None
    if (dataset := given("dataset")) is not None:
        out["dataset"] = [str(d) for d in dataset]
    for column in ("network", "backbone"):
        if (network := given(column)) is not None:
            teacher = given("teacher") or [""] * len(network)
            out["network"] = [f"{t} → {n}" if t else str(n) for n, t in zip(network, teacher)]
    if (kind := given("kind")) is not None:
        out["kind"] = [str(k) for k in kind]
    if (setting := given("setting")) is not None:
        out["setting"] = [str(v) for v in setting]
    if (profile := given("profile")) is not None:
        out["profile"] = [f"{p} profile" if p else "" for p in profile]
    for column in ("epochs", "pretrain_epochs"):
        if (epochs := given(column)) is not None:
            out["epochs"] = [f"{float(e):g} epochs" if e != "" else "" for e in epochs]
    if (metric := given("metric")) is not None:
        out["metric"] = [str(m) for m in metric]
    return out


def reading_table(table: pd.DataFrame, keep: list[str], separate: tuple[str, ...] = ()) -> tuple[str, pd.DataFrame]:
    """``table`` made narrow enough to read: what every row shares becomes one caption line
    (returned), and what differs between rows (its dataset, network, profile, epochs, and the
    ``variant`` column's settings) is folded into one "setting" column beside ``method`` and the
    ``keep`` columns. Columns named in ``separate`` stay their own column when they differ. A
    variant's ``name=value`` (from the ``variant settings`` column) whose value another part of
    the row already says is left out."""
    places = _settings_of(table)
    shared = [c for c in places if places[c].nunique() == 1]
    caption = " · ".join(places[c].iloc[0] for c in shared if places[c].iloc[0])
    folded = [c for c in places if c not in shared and c not in separate]
    settings = []
    for i in table.index:
        method = str(table.at[i, "method"])
        parts = [places.at[i, c] for c in folded if places.at[i, c] and places.at[i, c] not in method]
        said = [*parts, method]
        variant = table.at[i, "variant settings"] if "variant settings" in table else {}
        parts += [f"{name}={value}" for name, value in variant.items() if not any(_says(part, value) for part in said)]
        settings.append(", ".join(dict.fromkeys(parts)))
    out = table[["method"]].copy()
    if any(settings):
        out["setting"] = settings
    for column in separate:
        if column in places and column not in shared:
            out[column] = places[column]
    for column in keep:
        out[column] = table[column]
    return caption, out.set_index("method")


def _says(text: str, value) -> bool:
    """Whether ``value`` stands in ``text`` as a word of its own ('swin_t' in 'swin_t (width 64)', not '0' in '20')."""
    return re.search(rf"(^|[\s(]){re.escape(str(value))}($|[\s),])", text) is not None


def _measured(table: pd.DataFrame) -> list[str]:
    return [c for c in ("mean ± std", "95% CI", "seeds", "folds") if c in table]


SPREAD = ("mean ± standard deviation over the {replicates}, and the 95% confidence interval of the mean "
          "(Student's t over the {replicates}; none from one)")


def _spread(frame: pd.DataFrame) -> str:
    return SPREAD.format(replicates="folds" if "folds" in frame else "seeds")


def show_reproduced(reproduced: pd.DataFrame, records: Records, paper: str) -> None:
    """Display one paper's variants at its headline metric as a numbered table whose caption
    says what every row shares, or say that it has no runs yet."""
    from ssllib.chapters.tables import show
    table = reproduced_table(reproduced, records, paper)
    if table.empty:
        print(no_runs_sentence(paper))
        return
    caption, frame = reading_table(table, _measured(table))
    show(frame, f"The book's runs of {paper} at its headline measure" + (f"; every row: {caption}" if caption else "")
         + f"; {_spread(frame)}.")


def _published_reading(rows: pd.DataFrame, paper: str) -> tuple[str, pd.DataFrame]:
    """The published rows narrow: value with its spread and number of runs where given, the
    CSV line, the source as its own column only where rows differ in it."""
    rows = rows.copy()
    value = []
    for v, std, runs in zip(rows["value"], rows.get("std", [None] * len(rows)), rows.get("runs", [None] * len(rows))):
        text = f"{v:g}"
        if std is not None and std is not pd.NA and str(std) not in ("", "nan"):
            text += f" ± {std}"
        if runs is not None and runs is not pd.NA and str(runs) not in ("", "nan", "<NA>"):
            text += f" ({runs} runs)"
        value.append(text)
    rows["value"] = value
    rows["line"] = [r.rsplit(":", 1)[-1] for r in rows["row"]]
    caption, frame = reading_table(rows, ["value", "line"], separate=("metric",))
    sources = rows["source"].unique()
    if len(sources) == 1:
        caption += f" · source: {sources[0]}"
    else:
        frame.insert(len(frame.columns) - 1, "source", rows["source"].values)
    return caption, frame


def merged_protocol(protocols: list[str]) -> str:
    """Several variants' protocols ('k: 200; epoch: last', as the records describe them) as one:
    the items they share, then each item whose value differs with its values ('l2: 1e-05 or 0.001')."""
    varies = any(p == summaries.PROTOCOL_VARIES for p in protocols)
    parsed = [dict(item.split(": ", 1) if ": " in item else (item, "") for item in p.split("; "))
              for p in protocols if p and p != summaries.PROTOCOL_VARIES]
    if not parsed:
        return summaries.PROTOCOL_VARIES if varies else ""
    keys = list(dict.fromkeys(k for p in parsed for k in p))
    items = []
    for key in keys:
        values = list(dict.fromkeys(p.get(key, "not recorded") for p in parsed))
        text = " or ".join(values) if len(values) > 1 else values[0]
        items.append(f"{key}: {text}" if text else key)
    return "; ".join(items) + (f"; and it {summaries.PROTOCOL_VARIES} in some variants" if varies else "")


def show_sources(reported: pd.DataFrame, reproduced: pd.DataFrame, records: Records, paper: str) -> None:
    """Display the paper's published rows (with the CSV line of each) and every metric of every
    variant with its protocol, then the records each variant came from."""
    from ssllib.chapters.tables import show
    from ssllib.review.published import PAPERS_DIR
    rows = published_table(reported, paper)
    if len(rows):
        caption, frame = _published_reading(rows, paper)
        show(frame, f"Published: the {len(rows)} rows of papers/{paper}/reported.csv (line: its line there)"
             + (f"; every row: {caption}" if caption else "") + ".")
    elif not (PAPERS_DIR / paper).is_dir():
        print(f"published: none; {paper} is the book's own chapter of baselines, not a paper")
    else:
        print(f"published: none; papers/{paper}/ has no reported.csv (its README and chapter say why)")
    ours = reproduced[reproduced["paper"] == paper]
    if ours.empty:
        print(no_runs_sentence(paper))
        return
    print(f"reproduced: {len(ours)} (variant, metric) pairs")
    measured = ours[["evaluation", "metric"]].drop_duplicates().itertuples(index=False)
    for evaluation, metric in measured:
        table = reproduced_table(reproduced, records, paper, metric, evaluation=evaluation)
        caption, frame = reading_table(table, _measured(table))
        protocol = merged_protocol(table["protocol"].tolist())
        show(frame, f"The book's runs of {paper}: {metric} ({evaluation})" + (f"; every row: {caption}" if caption
                                                                             else "")
             + (f"; protocol: {protocol}" if protocol else "") + f"; {_spread(frame)}.")
    # every variant once: each evaluation's runs at the first metric they hold
    firsts = ours.drop_duplicates("evaluation")[["evaluation", "metric"]].itertuples(index=False)
    table = pd.concat([reproduced_table(reproduced, records, paper, m, evaluation=e) for e, m in firsts],
                      ignore_index=True).drop_duplicates("records")
    caption, frame = reading_table(table, ["records"])
    print("the records of each variant:")
    for (method, row), setting in zip(frame.iterrows(), frame["setting"] if "setting" in frame else [""] * len(frame)):
        paths = [Path(p) for p in row["records"].split(", ") if p]
        folders = dict.fromkeys(str(p.parent) for p in paths)
        for folder in folders:
            names = ", ".join(p.name for p in paths if str(p.parent) == folder)
            label = f"{method} ({setting})" if setting else method
            print(_wrapped(f"{label}, in {folder}/: {names}"))


def ranking_panels(reproduced: pd.DataFrame, records: Records, profile: str, min_seeds: int = 3) -> tuple[dict, dict]:
    """For the rankings figure: paper title → its variants with ``min_seeds`` or more seeds at
    ``profile`` (label, mean, low, high, seeds), and paper title → the metric drawn. A method
    drawn more than once is labelled with what sets each of its variants apart."""
    panels, metrics = {}, {}
    rows = reproduced[(reproduced["profile"] == profile) & (reproduced["seeds"] >= min_seeds)]
    for paper, title in PAPERS.items():
        ours = summaries.headline_rows(rows[rows["paper"] == paper])
        if ours.empty:
            continue
        metric = ours["metric"].iat[0]
        table = reproduced_table(ours, records, paper, numbers=True)
        values = table[list(NUMBERS)]
        replicates = "folds" if "folds" in table else "seeds"
        counts = table[replicates].tolist()
        table = table.drop(columns=list(NUMBERS))
        table["network"] = table["network"].str.replace(r" \(.*\)$", "", regex=True) if "network" in table else ""
        # Only what differs between the variants drawn here, not between all of a method's runs.
        for method, group in table.groupby("method"):
            varying = {k for k in set().union(*group["variant settings"])
                       if len({repr(v.get(k)) for v in group["variant settings"]}) > 1}
            table.loc[group.index, "variant settings"] = pd.Series(
                [{k: v for k, v in items.items() if k in varying} for items in group["variant settings"]],
                index=group.index, dtype=object)
        _, frame = reading_table(table, [])
        setting = frame["setting"].tolist() if "setting" in frame else [""] * len(frame)
        repeated = frame.index.duplicated(keep=False)
        labels = [f"{m} · {s}" if again and s else m for m, s, again in zip(frame.index, setting, repeated)]
        # every value beside the label of its own row (the table's order, not the summary's)
        panel = pd.DataFrame({"label": labels, "mean": values["mean"].values, "low": values["low"].values,
                              "high": values["high"].values, "seeds": counts,
                              "replicates": [f"{n} {replicates}" for n in counts]})
        panels[title] = panel.sort_values("mean", ascending=False).reset_index(drop=True)
        metrics[title] = f"{metric} (%)"
    return panels, metrics


def setting_gaps(pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`agreement_pairs` with each method's gap from the mean of the methods in its
    published setting: ``x`` the paper's, ``y`` ours, and ``half`` half our 95% interval of the
    method's mean (NaN for one seed)."""
    by_setting = pairs.groupby(["paper", "published setting"])
    return pairs.assign(x=pairs["published"] - by_setting["published"].transform("mean"),
                        y=pairs["ours"] - by_setting["ours"].transform("mean"),
                        half=(pairs["high"] - pairs["low"]) / 2)


def gap_sentence(pairs: pd.DataFrame) -> str:
    """Which methods the papers and our runs place on the same side of the mean of the methods
    both ran in a setting: in every published setting, in none, or in some. Our side counts only
    where our gap is wider than half our 95% interval of that method's mean; otherwise the method
    is too close to the others to call in our runs (a gap of exactly 0 is no side either)."""
    if pairs.empty:
        return "No published setting shares two methods with our runs yet."
    pairs = setting_gaps(pairs)
    product = pairs["x"] * pairs["y"]
    pairs["same"], pairs["opposite"] = product > 0, product < 0
    pairs["clear"] = pairs["y"].abs() > pairs["half"]      # NaN (one seed) is not clear
    groups = {"on the same side in every setting": [], "on opposite sides in every setting": [],
              "on the same side in some settings only": [], "too close to the others in our runs to say": []}
    for (paper, method), group in pairs.groupby(["paper", "method"], sort=False):
        name = f"{method} ({paper}, {len(group)} settings)"
        key = ("too close to the others in our runs to say" if not group["clear"].all() else
               "on the same side in every setting" if group["same"].all() else
               "on opposite sides in every setting" if group["opposite"].all() else
               "on the same side in some settings only")
        groups[key].append(name)
    said = [f"{where}: {', '.join(names)}" for where, names in groups.items() if names]
    return ("Against the mean of the methods both ran in a setting, the paper and our runs put these methods "
            + "; ".join(said) + ".")


def agreement_sentence(agreement: pd.DataFrame) -> str:
    """How the published settings rank the methods our runs share with them: for settings of
    three or more shared methods, how many keep the order, reverse it or neither, with the range
    of τ; two-method settings apart, since there τ = ±1 says only whether one gap has the same sign."""
    counts = agreement["methods"].str.count(", ") + 1
    said = []
    many, two = agreement[counts >= 3], agreement[counts == 2]
    if len(many):
        taus = many["Kendall τ"].dropna()
        same, reversed_ = int((taus == 1).sum()), int((taus == -1).sum())
        said.append(f"Of {len(many)} published settings that rank three or more of the methods our runs share, "
                    f"{same} keep our order, {reversed_} reverse it and {len(taus) - same - reversed_} do neither"
                    + (f" (τ from {taus.min():.2f} to {taus.max():.2f}, median {taus.median():.2f})" if len(taus) else "")
                    + (f"; {len(many) - len(taus)} have ties that leave τ undefined" if len(taus) < len(many) else "")
                    + ".")
    if len(two):
        agree = int((two["Kendall τ"] == 1).sum())
        said.append(f"Of {len(two)} settings that share only two methods, {agree} put the same one first as our runs "
                    f"(a single gap's sign, whatever its size).")
    if len(agreement):
        said.append(independent_rankings(agreement))
    return " ".join(said)


def independent_rankings(agreement: pd.DataFrame) -> str:
    """How many distinct rankings of ours the settings of ``agreement`` rest on: one set of runs
    is set against every published setting that ranks the same methods (RRD's one pair against
    each teacher–student pair the paper tables), so the settings are not that many independent
    agreements."""
    keys = [k for k in ("paper", "methods", "ours") if k in agreement]
    ours = agreement.groupby(keys, sort=False).size()
    if len(ours) == len(agreement):
        return f"Each of these {len(agreement)} settings is set against a ranking of ours of its own."
    most = int(ours.max())
    whose = f"{ours.idxmax()[0]}'s" if "paper" in keys else "one"
    return (f"These {len(agreement)} settings rest on {len(ours)} distinct rankings of ours, so they are at most "
            f"{len(ours)} independent agreements: one ranking of ours can face several published settings "
            f"({whose} faces {most}).")


def coverage_sentence(reproduced: pd.DataFrame, artifact_kinds: dict[str, list[str]]) -> str:
    """What the tables hold, by evaluation and metric, and what the chapters print that they do
    not: the kinds of value committed beside the runs (:func:`~ssllib.review.records.artifact_kinds`)."""
    held = [f"{evaluation} ({', '.join(dict.fromkeys(group['metric']))})"
            for evaluation, group in reproduced.groupby("evaluation", sort=False)]
    said = ("The tables above hold every metric of every record they use, by evaluation: " + "; ".join(held) + "."
            if held else "The tables above hold no run's metric yet.")
    if artifact_kinds:
        said += (" They do not repeat the numbers the chapters compute from values committed beside their runs "
                 "(papers/<paper>/runs/…/artifacts/, sealed like the records): "
                 + ", ".join(f"{kind} ({', '.join(papers)})" for kind, papers in artifact_kinds.items())
                 + "; each chapter prints those from the files of the runs it names.")
    return said
