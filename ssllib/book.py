"""Build the book: execute the chapters whose code or source changed, then render them.

    python -m ssllib.book build            # run stale chapters (cpu profile), then Jupyter Book
    python -m ssllib.book build --force    # run every chapter again
    python -m ssllib.book status           # which chapters are stale and why; runs not committed
    python -m ssllib.book verify           # execute stale chapters and report each run: read,
                                           # re-keyed after a prefix check, or trained

A chapter is *fresh* when the fingerprint stored in its metadata equals the fingerprint of
the ``ssllib`` modules its last execution imported (their current normalised code: a docstring,
comment or help-text edit changes nothing) plus what the chapter's own code cells compute (its
prose and comments are rendered as they are). The build first writes every chapter's parameters
cell from its parameters' declarations, so a help text is written once, in ``ssllib``. The build records that list from the kernel once every cell has run, so a new family
or another chapter's module does not make every chapter stale, while an edit to any module the
chapter used does (a module can only start being imported through an edit to one it already
imports, and that edit changes the fingerprint). A chapter that reads files of the repository
(the review reads every ``reported.csv`` and the committed run records) names them in its
notebook metadata, ``"ssllib_inputs": [glob, …]`` relative to the repository root, and is also
stale when one of those files changes, appears or goes. Stale chapters are executed in place
with nbclient at the ``cpu`` profile (training runs that finished before are loaded from their
checkpoints, so a rebuild after a small change is quick); outputs are normalised so diffs stay
small, and the notebook is written atomically only when every cell ran. The metadata also lists
the runs the execution found, trained or measured and the artifacts it read (``"runs"``): after
each chapter the build commits those under ``papers/<paper>/runs/cpu/``
(:mod:`ssllib.review.curate`), so the next execution, on any clone, trains nothing while the runs'
identities are unchanged. A run whose code changed is first checked against its committed
predecessor by one epoch (:mod:`ssllib.engine.verify`) and re-keyed when bit-equal. Any error
stops the build with the chapter and cell named, and leaves the committed notebook as it was.

Every page states the commit it was built from, so ``build``, ``verify`` and ``run`` (whose runs
are curated into ``papers/`` too) first check the tree and refuse, before any work, when a tracked
file differs from that commit or an untracked file sits where it can change a page
(:data:`RESULT_PATHS`); ``--allow-modified`` builds anyway and the pages say ``+dirty``. What the
build writes itself is left out: the executed chapters (unless their code cells changed) and, once
it has started, the runs it commits. The executed chapter's metadata names the commit and whether
the tree was clean (``"commit"``, ``"clean"``; null outside a git checkout, where nothing is refused).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ssllib.engine.fingerprint import PACKAGE, code_fingerprint, module_digest, normalised_code
from ssllib.engine.ledger import BUILT_FROM_ENV, built_from, git_head, results_dir
from ssllib.engine.runs import LOG_ENV, OUTCOMES, REPLACED

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 3600  # seconds: a cell may hold several training runs
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def chapters() -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def _cell_code(source: str) -> str:
    """A code cell as what it computes (comments and docstrings left out); its text where it
    is not plain Python (an IPython magic)."""
    try:
        return normalised_code(source)
    except SyntaxError:
        return source


def source_fingerprint(nb) -> str:
    """sha256 of what the chapter's code cells compute, in order: the outputs depend on nothing
    else of the notebook (its prose, its comments, the parameters' help in the parameters cell
    and the cells' display tags are rendered as they are, without executing anything)."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(_cell_code(cell.source).encode())
    return digest.hexdigest()[:12]


def parameters_cell(nb):
    """The chapter's cell tagged ``parameters``, or None."""
    return next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)


def sync_parameters(path: Path) -> bool:
    """Write the chapter's parameters cell from its parameters' declarations (their help texts and
    choices) where it differs; True when it was rewritten. Only comments change unless a parameter
    was added, removed or retyped, which the chapter's freshness then sees."""
    from ssllib.chapters import chapter_specs
    from ssllib.chapters.spec import parameters_source

    spec = chapter_specs().get(path.stem)
    nb = nbformat.read(path, as_version=4)
    cell = parameters_cell(nb)
    if spec is None or cell is None or cell.source == (wanted := parameters_source(spec)):
        return False
    cell.source = wanted
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return True


# Run in the chapter's kernel after its last cell (and removed again): the ssllib modules it imported.
MODULES_PROBE = """import json as _json, sys as _sys
print("ssllib-modules:" + _json.dumps(sorted({_m.__file__ for _n, _m in list(_sys.modules.items())
      if _n.split(".")[0] == "ssllib" and getattr(_m, "__file__", None)})))"""


def module_digests(modules: list[str]) -> dict[str, str | None]:
    """Each module's normalised-code digest (12 hex digits; None where it no longer exists)."""
    return {name: module_digest(PACKAGE / name)[:12] if (PACKAGE / name).is_file() else None for name in modules}


def modules_fingerprint(modules: list[str]) -> str | None:
    """sha256 over the current normalised code of ``modules`` (paths relative to ssllib/); None
    when one of them no longer exists."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        path = PACKAGE / name
        if not path.is_file():
            return None
        digest.update(name.encode())
        digest.update(module_digest(path).encode())
    return digest.hexdigest()[:12]


def imported_modules(probe_output: str) -> list[str]:
    """The probe's printed paths as names relative to ssllib/ (book.py, never in a chapter's key, left out)."""
    line = next(l for l in probe_output.splitlines() if l.startswith("ssllib-modules:"))
    names = [Path(f).resolve().relative_to(PACKAGE).as_posix() for f in json.loads(line.split(":", 1)[1])
             if Path(f).resolve().is_relative_to(PACKAGE)]
    return sorted(n for n in names if n != "book.py")


def fingerprint(nb, modules: list[str] | None = None) -> str:
    code = code_fingerprint() if modules is None else modules_fingerprint(modules)
    return f"{code}-{source_fingerprint(nb)}"


def inputs_fingerprint(nb) -> str | None:
    """sha256 over the repository files the chapter declares it reads (``ssllib_inputs``
    globs): their paths and contents; None when it declares none."""
    patterns = nb.metadata.get("ssllib_inputs")
    if not patterns:
        return None
    digest = hashlib.sha256()
    for file in sorted({f for pattern in patterns for f in ROOT.glob(pattern) if f.is_file()}):
        digest.update(file.relative_to(ROOT).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def stale_reason(path: Path) -> str | None:
    """Why ``path`` must be executed again, or None when it is fresh."""
    nb = nbformat.read(path, as_version=4)
    stored = nb.metadata.get("ssllib", {})
    if not stored:
        return "never executed by the build"
    if stored.get("profile") != "cpu":
        return f"executed at the {stored.get('profile')} profile, not cpu"
    code, source = stored.get("fingerprint", "-").split("-", 1)
    modules = stored.get("modules")
    if code != (code_fingerprint() if modules is None else modules_fingerprint(modules)):
        then = stored.get("module_digests") or {}
        changed = [name for name, digest in module_digests(modules or []).items() if then.get(name) != digest]
        return ("what " + ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
                + " compute changed since it was executed") if then and changed else \
            "ssllib changed since it was executed"
    if source != source_fingerprint(nb):
        return "its cells changed since it was executed"
    if stored.get("inputs") != inputs_fingerprint(nb):
        return f"the files it reads ({', '.join(nb.metadata['ssllib_inputs'])}) changed since it was executed"
    return None


# Where a file git does not track can change what a chapter computes or how its page renders: the
# library, the papers' published tables, recipes and committed runs, the chapters, their Sphinx
# extensions and bibliography, the book's table of contents, configuration and static files, and the
# pinned dependencies. An untracked file elsewhere (a note, a scratch script, a test being written)
# reaches no page; a change to a tracked file anywhere makes the commit's '+dirty' true, so it counts.
RESULT_PATHS = ("ssllib/", "papers/", "book/", "_toc.yml", "_config.yml", "_static/", "pyproject.toml")
SHOWN_PATHS = 10


@dataclass
class Tree:
    """The commit the checkout is at and what differs from it (paths, the untracked marked so);
    ``commit`` None outside a git checkout (a tarball), where nothing can be compared."""
    commit: str | None
    modified: list[str]

    @property
    def clean(self) -> bool | None:
        return None if self.commit is None else not self.modified

    def as_env(self, root: Path) -> str:
        return json.dumps({"commit": self.commit, "clean": self.clean, "root": str(root)})

    def listed(self) -> str:
        shown = ", ".join(self.modified[:SHOWN_PATHS])
        more = len(self.modified) - SHOWN_PATHS
        return shown + (f" and {more} more" if more > 0 else "")


def _code_unchanged(root: Path, path: str, commit: str) -> bool:
    """Whether the chapter ``path`` computes what it computes at ``commit`` (its code cells; its
    outputs, metadata and prose are what a build writes or renders as they are)."""
    done = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        return False
    try:
        then = nbformat.reads(done.stdout, as_version=4)
        now = nbformat.read(root / path, as_version=4)
    except Exception:   # unreadable either side: it counts as changed
        return False
    return source_fingerprint(then) == source_fingerprint(now)


def tree_state(root: Path | None = None) -> Tree:
    """What in the checkout differs from its commit in a way the pages would not show: any
    tracked file modified, staged, deleted or renamed, and the untracked files (not ignored) under
    :data:`RESULT_PATHS`. An executed chapter in ``book/`` whose code cells are those of the
    commit is left out: its outputs are what a build writes (the build's own output, left out of
    '+dirty' likewise), and its page shows the code it ran."""
    root = Path(root or ROOT)
    commit = git_head(root)
    if commit is None:
        return Tree(None, [])
    done = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=normal"], cwd=root,
                          capture_output=True, text=True, check=True)
    fields = done.stdout.split("\0")
    modified = []
    while fields:
        entry = fields.pop(0)
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":          # a rename or copy: the next field is where it came from
            fields.pop(0)
        if code == "??":
            if path.startswith(RESULT_PATHS):
                modified.append(f"{path} (untracked)")
            continue
        if (re.fullmatch(r"book/[^/]+\.ipynb", path) and "D" not in code and code[0] not in "RC"
                and _code_unchanged(root, path, commit)):
            continue
        modified.append(path + (" (deleted)" if "D" in code else ""))
    return Tree(commit, sorted(modified))


def require_clean_tree(command: str, allow_modified: bool, root: Path | None = None) -> Tree:
    """The tree's state, checked before any work: a build from a modified tree is refused, in one
    sentence, unless ``allow_modified``; then the pages say '+dirty'."""
    tree = tree_state(root)
    if tree.commit is None:
        print(f"{Path(root or ROOT)} is not a git checkout: the pages will say they were built from no commit",
              flush=True)
    elif tree.modified and not allow_modified:
        raise SystemExit(
            f"python -m ssllib.book {command} refused: {len(tree.modified)} file{'s' if len(tree.modified) > 1 else ''}"
            f" differ{'' if len(tree.modified) > 1 else 's'} from commit {tree.commit[:12]} ({tree.listed()}), so the "
            f"pages would state a commit that does not hold the code and data they ran; commit (or stash) "
            f"{'them' if len(tree.modified) > 1 else 'it'} first, or pass --allow-modified to build anyway, and the "
            f"pages will say 'git {tree.commit[:12]}…+dirty'.")
    elif tree.modified:
        print(f"building from a modified tree (--allow-modified): {tree.listed()} differ from commit "
              f"{tree.commit[:12]}; the pages will say 'git {tree.commit[:12]}…+dirty'", flush=True)
    return tree


STYLER_ID = re.compile(r"\bT_[0-9a-f]{5}(?=[_\"\s])")    # pandas Styler's random table id
OBJECT_AT = re.compile(r" at 0x[0-9a-f]+>")                 # an object's address in its repr


def normalise(nb) -> None:
    """Drop what changes on every run without changing what a reader sees: widget state,
    execution timestamps, pandas Styler's random table ids (made stable per output) and objects'
    memory addresses."""
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        kept = []
        for number, out in enumerate(cell.outputs):
            if out.get("output_type") in ("display_data", "execute_result"):
                data = out.get("data", {})
                data.pop(WIDGET_MIME, None)
                out.get("metadata", {}).pop(WIDGET_MIME, None)
                out.pop("transient", None)
                if not data:
                    continue
                if "text/html" in data:
                    data["text/html"] = STYLER_ID.sub(f"T_c{index}o{number}", data["text/html"])
                if "text/plain" in data:
                    data["text/plain"] = OBJECT_AT.sub(">", data["text/plain"])
            kept.append(out)
        cell.outputs = kept


@dataclass
class Execution:
    seconds: float
    outcomes: list[str]      # 'trained:<id>', 're-keyed:<id>', 'measured:<id>', 'replaced:<id>'
    runs: list[str]

    def count(self, outcome: str) -> int:
        return sum(o.startswith(outcome + ":") for o in self.outcomes)

    def summary(self) -> str:
        used = sum(1 for r in self.runs if "/" not in r and ":" not in r)
        return (f"{used} runs used: {self.count('trained')} trained, {self.count('re-keyed')} re-keyed after a "
                f"prefix check, {self.count('measured')} evaluations measured, the rest read")


def execute(path: Path, profile: str = "cpu", tree: Tree | None = None) -> Execution:
    """Run every cell of ``path`` in a fresh kernel; write it back only if all ran. Its metadata
    names the commit it was built from and whether the tree held anything else (``commit``,
    ``clean``): ``tree`` as the build checked it before it started (else the tree now), and clean
    only if nothing but what the build writes changed since. The kernel's provenance line and the
    records of the runs it trains say the same (``$SSLLIB_BUILT_FROM``)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from ssllib.chapters.notebook import SETTINGS_FILE_ENV
    from ssllib.engine.checkpoint import USED_RUNS_ENV, runs_used  # (imports torch: not at start-up)

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(MODULES_PROBE))
    env_before = dict(os.environ)
    used = tempfile.NamedTemporaryFile(prefix="ssllib-runs-used-", suffix=".txt", delete=False)
    used.close()
    ran = Path(used.name).with_suffix(".settings.json")  # what the chapter says it ran (its settings line)
    os.environ[USED_RUNS_ENV] = used.name
    os.environ[SETTINGS_FILE_ENV] = str(ran)
    os.environ["SSLLIB_PROFILE"] = profile
    os.environ[BUILT_FROM_ENV] = (tree or tree_state()).as_env(ROOT)
    os.environ.setdefault("SSLLIB_PROGRESS", "off")
    # what the engine decides about each run goes to a log, not into the chapter's outputs
    os.environ.setdefault("SSLLIB_QUIET", "1")
    os.environ.setdefault(LOG_ENV, str(results_dir() / "logs" / f"build-{path.stem}.log"))
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
        commit, clean = built_from()
    except CellExecutionError as err:
        raise SystemExit(f"\n{shown(path)} failed; the committed notebook is unchanged.\n{err}") from None
    finally:
        os.environ.clear()
        os.environ.update(env_before)
        runs = runs_used(used.name)
        os.unlink(used.name)
        settings = json.loads(ran.read_text()) if ran.exists() else {}
        ran.unlink(missing_ok=True)
    probe = nb.cells.pop()
    modules = imported_modules("".join(out.get("text", "") for out in probe.outputs))
    normalise(nb)
    outcomes = [r for r in runs if r.startswith(OUTCOMES)]
    runs = [r for r in runs if not r.startswith(OUTCOMES) or r.startswith(REPLACED)]
    nb.metadata["ssllib"] = {"fingerprint": fingerprint(nb, modules), "profile": settings.get("record_profile", profile),
                             "modules": modules, "module_digests": module_digests(modules), "runs": runs,
                             "commit": commit, "clean": clean}
    if settings.get("given") or settings.get("budget", "full") != "full":
        nb.metadata["ssllib"].update(budget=settings["budget"], given=settings["given"])
    if (inputs := inputs_fingerprint(nb)) is not None:
        nb.metadata["ssllib"]["inputs"] = inputs
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return Execution(time.perf_counter() - start, outcomes, runs)


def run_copy(chapter: str, output: Path, parameters_file: Path | None, pairs: list[list[str]],
             tree: Tree | None = None) -> Execution:
    """``book/<chapter>.ipynb`` with its parameters injected (papermill's cell after the
    parameters cell), executed into ``output``, its metadata saying what it ran."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from ssllib.chapters.launch import parameters_given

    source = ROOT / "book" / f"{chapter}.ipynb"
    if not source.exists():
        raise SystemExit(f"no chapter named {chapter}; the chapters are {', '.join(p.stem for p in chapters())}")
    given = parameters_given(pairs, parameters_file)
    nb = parameterize_notebook(load_notebook_node(str(source)), given)
    output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, output)
    execution = execute(output, given.get("profile") or os.environ.get("SSLLIB_PROFILE") or "cpu", tree)
    meta = nbformat.read(output, as_version=4).metadata["ssllib"]
    print(f"{shown(output)}: executed at profile {meta['profile']} ({execution.summary()}); commit its runs with "
          f"python -m ssllib.review.curate {meta['profile']} --book-dir {shown(output.parent)}")
    return execution


def shown(path: Path) -> str:
    """``path`` relative to the repository where it is inside it."""
    return str(path.relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)


def check_no_errors(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise SystemExit(f"{shown(path)} cell {i} holds an error output; run the build with --force")


def render(root: Path = ROOT, quiet: bool = False) -> Path:
    """Jupyter Book on the book in ``root`` (warnings are errors); returns the HTML folder."""
    jb = Path(sys.executable).parent / "jupyter-book"
    command = [str(jb if jb.exists() else "jupyter-book"), "build", str(root), "--warningiserror", "--keep-going"]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=root, capture_output=quiet, text=True)
    if done.returncode != 0:
        raise SystemExit("Jupyter Book reported errors or warnings (treated as errors); see "
                         + ("above" if not quiet else f"its output:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"))
    print(f"\nThe book is at {root / '_build' / 'html' / 'index.html'}")
    return root / "_build" / "html"


def committed_gaps(path: Path) -> list[str]:
    """The runs a cpu chapter lists that the committed store does not hold (a fresh clone would
    train them), and the artifacts it read that are not committed."""
    from ssllib.engine import store

    meta = nbformat.read(path, as_version=4).metadata.get("ssllib", {})
    missing = []
    for entry in meta.get("runs", []):
        if entry.startswith(OUTCOMES):
            continue
        run_id, _, artifact = entry.partition("/artifacts/")
        folder = store.committed_folder(run_id)
        if folder is None or (artifact and not (folder / "artifacts" / (artifact + ".json")).exists()):
            missing.append(entry)
    return missing


def parameters_out_of_date(path: Path) -> bool:
    """Whether the chapter's parameters cell says other than its parameters' declarations."""
    from ssllib.chapters import chapter_specs
    from ssllib.chapters.spec import parameters_source

    spec = chapter_specs().get(path.stem)
    cell = parameters_cell(nbformat.read(path, as_version=4))
    return spec is not None and cell is not None and cell.source != parameters_source(spec)


def status(paths: list[Path]) -> list[tuple[str, str | None, list[str]]]:
    """(chapter, why it is stale or None, what it uses that is not committed) per chapter."""
    out = []
    for path in paths:
        reason = stale_reason(path)
        if reason is None and parameters_out_of_date(path):
            reason = "fresh, but its parameters cell's help texts are out of date (the build rewrites them)"
        out.append((path.stem, reason, committed_gaps(path)))
    return out


def build_chapters(paths: list[Path], force: bool, only: list[str], tree: Tree | None = None) -> list[Execution]:
    """Execute the stale (or all, or the named) chapters in book order, committing what each
    used of its runs; a chapter that trained, re-keyed or measured a run is executed once more
    from the committed records, so every number it prints comes from them and it reads as any
    clone's re-execution reads."""
    from ssllib.review.curate import curate

    done = []
    for path in paths:
        if only and path.stem not in only:
            continue
        reason = "--force" if force else stale_reason(path)
        if reason is None:
            print(f"{path.stem}: fresh", flush=True)
            continue
        print(f"{path.stem}: executing ({reason}) …", flush=True)
        execution = execute(path, tree=tree)
        curate("cpu", only={path.stem})
        if execution.outcomes:
            # Executed once more from what was just committed: every number then comes from the records a
            # clone reads (a committed run trained again here has a new one), and the committed chapter
            # says what any re-execution says (its runs read, not trained).
            print(f"{path.stem}: {len(execution.outcomes)} runs were trained, re-keyed or measured; executing once "
                  f"more from their committed records …", flush=True)
            again = execute(path, tree=tree)
            curate("cpu", only={path.stem})
            execution = Execution(execution.seconds + again.seconds, execution.outcomes + again.outcomes, again.runs)
        print(f"{path.stem}: done in {execution.seconds / 60:.1f} min ({execution.summary()}; the engine's log: "
              f"{shown(results_dir() / 'logs' / f'build-{path.stem}.log')})", flush=True)
        done.append(execution)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ssllib.book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="execute stale chapters, then render the book")
    build.add_argument("--force", action="store_true", help="execute every chapter, fresh or not")
    build.add_argument("--only", action="append", default=[], help="execute only this chapter (by name); repeatable")
    build.add_argument("--no-render", action="store_true", help="execute chapters but do not run Jupyter Book")
    allow = dict(action="store_true", help="work from a tree that differs from its commit (refused otherwise); "
                                           "the pages then say 'git <commit>+dirty'")
    build.add_argument("--allow-modified", **allow)
    verify = sub.add_parser("verify", help="execute the stale chapters, checking each run whose code changed against "
                                           "its committed predecessor (re-keyed when bit-equal, else trained); "
                                           "no rendering")
    verify.add_argument("--only", action="append", default=[], help="only this chapter (by name); repeatable")
    verify.add_argument("--allow-modified", **allow)
    sub.add_parser("status", help="list the chapters and whether each is fresh")
    run = sub.add_parser("run", help="execute a copy of a chapter with parameters (as papermill does) and record in "
                                     "it what it ran: its profile, budget, the values given and every run it used, "
                                     "so that python -m ssllib.review.curate PROFILE --book-dir FOLDER commits them")
    run.add_argument("chapter", help="the chapter, by name")
    run.add_argument("output", type=Path, help="the executed copy (.ipynb)")
    run.add_argument("-f", "--parameters-file", type=Path, help="a YAML file of parameters (papers/<slug>/paper.yaml)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a parameter, read as YAML as papermill reads it; repeatable, after -f")
    run.add_argument("--allow-modified", **allow)
    args = parser.parse_args(argv)
    # Before any work (the parameters cells are written, a chapter executed): the pages state the
    # commit they were built from, and its runs' records too, so that commit must hold what they ran.
    tree = require_clean_tree(args.command, args.allow_modified) if args.command != "status" else None
    if args.command == "run":
        run_copy(args.chapter, args.output, args.parameters_file, args.parameter, tree)
        return

    paths = chapters()
    if args.command != "status":
        for path in paths:
            if sync_parameters(path):
                print(f"{path.stem}: parameters cell rewritten from the parameters' declarations", flush=True)
    if args.command == "status":
        state = tree_state()
        if state.modified:
            print(f"the tree differs from commit {state.commit[:12]} ({state.listed()}): a build refuses to start "
                  f"until that is committed, unless given --allow-modified\n")
        stale = 0
        for name, reason, gaps in status(paths):
            stale += reason is not None or bool(gaps)
            line = f"{name:<14} {reason or 'fresh'}"
            if gaps:
                line += f"; {len(gaps)} of what it used is not committed (e.g. {gaps[0]})"
            print(line)
        if stale:
            print("\npython -m ssllib.book build executes the stale chapters (runs whose code changed are checked by "
                  "their first epoch and re-keyed when bit-equal: python -m ssllib.book verify reports each)")
        return
    known = {p.stem for p in paths}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        raise SystemExit(f"no chapter named {', '.join(unknown)}; the chapters are {', '.join(sorted(known))}")
    t0 = time.perf_counter()
    done = build_chapters(paths, getattr(args, "force", False), args.only, tree)
    if args.command == "verify":
        for execution in done:
            for outcome in sorted(execution.outcomes):
                kind, run_id = outcome.split(":", 1)
                if kind in ("trained", "re-keyed"):
                    print(f"  {kind:<9} {run_id}")
    total = Execution(time.perf_counter() - t0, [o for e in done for o in e.outcomes], [r for e in done for r in e.runs])
    print(f"{len(done)} chapters executed in {total.seconds / 60:.1f} min: {total.count('trained')} runs trained, "
          f"{total.count('re-keyed')} re-keyed, {total.count('measured')} evaluations measured", flush=True)
    for path in paths:
        check_no_errors(path)
    if args.command == "build" and not args.no_render:
        render()


if __name__ == "__main__":
    main()
