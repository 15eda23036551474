"""Fingerprints of the library's code: runs and chapters record which code produced them.

A fingerprint follows what the code computes, not how it is documented: each module is read as
its syntax tree, without docstrings, comments, string statements and the help texts of
parameters (``help=…`` in any call, the help argument of ``param_field``/``_p``/``Param``, a
``"help"`` entry of a dict literal), and written out field by field, leaving out empty fields so
that a newer Python's extra (empty) fields do not change it. So a documentation edit changes no
run's identity and stales no chapter, while any change to what the code does still does.

A chapter depends on all of ``ssllib`` (only the book builder itself is left out). A training
run depends on the modules that can change what it trains or measures:

- the shared code: the engine's loop, optimisers, devices and processes, data, networks and
  evaluation;
- its family's folder, except the modules other methods of the family declare as theirs;
- the modules its own method declares (``Method.code`` in :mod:`ssllib.engine.registry`).

It does not depend on the code around runs (chapters, benchmarks, entry points, the registry,
this module, the ledger, the review of finished runs, progress bars, the memory policy, how
checkpoints are written and how parameters are checked: the checked values themselves are part
of the run's identity; how runs are named, found, stored, checked and re-keyed), nor on other
families. Keeping the set narrow is what lets a rebuild
reuse runs after an edit to a plot, a chapter helper or another method.
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
NOT_IN_CHAPTERS = {"book.py"}
# Code around runs: it decides which runs are made, reused, shown or timed, never what one computes
# (the review reads finished runs' records).
AROUND_RUNS_FOLDERS = ("chapters/", "bench/", "review/")
AROUND_RUNS = {"book.py", "train.py", "__init__.py", "engine/fingerprint.py", "engine/registry.py",
               "engine/ledger.py", "engine/progress.py", "engine/launch.py", "engine/allocator.py",
               "engine/checkpoint.py", "engine/params.py", "evaluate/transfer.py",
               # how runs are named, found, kept, checked and re-keyed, not what one computes
               "engine/identity.py", "engine/store.py", "engine/runs.py", "engine/verify.py", "engine/artifacts.py"}
# Every family's folder, registered or still being written: a family is never imported by the
# engine or by another family (DESIGN: arrows run downwards), so its code is in no other family's
# runs. Registered families add theirs (``Family.folder``).
FAMILY_FOLDERS = ("selfsup/", "distill/", "retrieval/", "mil/")
# Modules only some runs use, whatever their method: they count where a run names them (the
# transformers for runs on them, the retrieval metrics for the retrieval family's evaluations).
BY_REQUEST = {"nets/vit.py", "evaluate/retrieval.py"}


# Calls whose positional argument at this index is a parameter's help text.
HELP_ARGUMENT = {"param_field": 1, "_p": 1, "Param": 2}
_DOCUMENTATION = ast.Constant(value="")


def _is_string_statement(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


class _Undocument(ast.NodeTransformer):
    """Drops docstrings and string statements, and blanks help texts."""

    def generic_visit(self, node):
        super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                kept = [s for s in block if not _is_string_statement(s)]
                setattr(node, name, kept or [ast.Pass()])
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "help":
                    keyword.value = _DOCUMENTATION
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            index = HELP_ARGUMENT.get(func)
            if index is not None and len(node.args) > index:
                node.args[index] = _DOCUMENTATION
        if isinstance(node, ast.Dict):
            node.values = [_DOCUMENTATION if isinstance(k, ast.Constant) and k.value == "help" else v
                           for k, v in zip(node.keys, node.values)]
        return node


def _canonical(node) -> str:
    """The tree as text: node types and their non-empty fields (no line numbers)."""
    if isinstance(node, ast.AST):
        fields = [f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node)
                  if value is not None and value != [] and name != "type_comment"]
        return f"{type(node).__name__}({' '.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(_canonical(item) for item in node) + "]"
    return repr(node)


def normalised_code(source: str) -> str:
    """What a module computes, as text: its syntax tree without documentation (see the module
    docstring). Two sources that differ only in comments, docstrings or help texts give the same text."""
    return _canonical(_Undocument().visit(ast.parse(source)))


@lru_cache(maxsize=None)
def _module_digest(path: Path, stamp: tuple[int, int]) -> str:
    return hashlib.sha256(normalised_code(path.read_text(encoding="utf-8")).encode()).hexdigest()


def module_digest(path: Path) -> str:
    """sha256 of a module's normalised code (cached while the file is unchanged)."""
    stat = path.stat()
    return _module_digest(path, (stat.st_mtime_ns, stat.st_size))


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(module_digest(path).encode())
    return digest.hexdigest()[:12]


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts]


def _file_of(dotted: str) -> str:
    """'ssllib.distill.rrd' → 'distill/rrd.py'."""
    return dotted.removeprefix("ssllib.").replace(".", "/") + ".py"


@lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """sha256 over the source of every ssllib module a chapter's outputs can depend on (12 hex digits)."""
    return _digest([p for p in _modules() if _name(p) not in NOT_IN_CHAPTERS])


@lru_cache(maxsize=None)
def shared_code_fingerprint(*extra: str) -> str:
    """sha256 over the code every run depends on (no family's folder) and the ``extra``
    modules (dotted): the key of results such as the transfer probe's."""
    from ssllib.engine.registry import families

    folders = tuple({*FAMILY_FOLDERS, *(f.folder for f in families().values())})
    extras = {_file_of(m) for m in extra}

    def counts(name: str) -> bool:
        if name in extras:
            return True
        return not (name in AROUND_RUNS or name in BY_REQUEST or name.startswith(AROUND_RUNS_FOLDERS) or name.startswith(folders))
    return _digest([p for p in _modules() if counts(_name(p))])


@lru_cache(maxsize=None)
def run_code_fingerprint(method: str, *uses: str) -> str:
    """sha256 over the modules a run of ``method`` depends on (12 hex digits); ``uses`` names
    the optional modules (dotted) it also depends on, such as its backbone's, or another
    method's module it builds on (the D&D student's aggregator)."""
    from ssllib.engine.registry import families, methods

    spec = methods()[method]
    own_folder = families()[spec.family].folder
    other_folders = tuple({*FAMILY_FOLDERS, *(f.folder for f in families().values())} - {own_folder})
    owned = {_file_of(m): name for name, declared in methods().items() for m in declared.code}
    requested = {_file_of(m) for m in uses}
    mine = {_file_of(m) for m in spec.code} | requested

    def counts(name: str) -> bool:
        if name in BY_REQUEST:
            return name in requested
        if name in AROUND_RUNS or name.startswith(AROUND_RUNS_FOLDERS) or name.startswith(other_folders):
            return False
        if name in owned:
            return name in mine
        return True
    return _digest([p for p in _modules() if counts(_name(p))])
