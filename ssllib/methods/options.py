"""Method-specific options: the parameters each method adds to a run, with their defaults.

A run configuration's ``options`` always holds the complete set for its method (defaults
filled in), so two runs that differ only by leaving a default implicit share one fingerprint.
"""
from __future__ import annotations

from typing import Any

from ..params import Param, ParameterError, check_all

_COUNT = "synthetic negatives per query of type {} ({})"

SYNCO_OPTIONS: dict[str, tuple[Param, Any]] = {
    "n_hard": (Param("n_hard", int, "size of each query's hard set: its most similar queue entries", min=1), 1024),
    "n1": (Param("n1", int, _COUNT.format(1, "interpolation towards the query"), min=0), 256),
    "n2": (Param("n2", int, _COUNT.format(2, "extrapolation past the negative"), min=0), 256),
    "n3": (Param("n3", int, _COUNT.format(3, "mixup of two hard negatives"), min=0), 256),
    "n4": (Param("n4", int, _COUNT.format(4, "Gaussian noise"), min=0), 64),
    "n5": (Param("n5", int, _COUNT.format(5, "gradient step towards the query"), min=0), 64),
    "n6": (Param("n6", int, _COUNT.format(6, "FGSM-like signed step"), min=0), 64),
    "sigma": (Param("sigma", float, "σ: standard deviation of the noise of type 4", min=0.0), 0.01),
    "delta": (Param("delta", float, "δ: step size of the gradient perturbation of type 5", min=0.0), 0.01),
    "eta": (Param("eta", float, "η: step size of the adversarial perturbation of type 6", min=0.0), 0.01),
    "warmup_epochs": (Param("warmup_epochs", int, "epochs of plain MoCo-v2 before synthetic negatives start",
                            min=0), 10),
    "finite_difference": (Param("finite_difference", bool, "types 5 and 6 as the pre-October-2024 reference "
                                "computed them (a finite-difference gradient; near-copies of hard negatives)"),
                          False),
}

# MoCHI (Kalantidis et al. 2020) is SynCo restricted to types 1 and 3: MoCHI(N, s, s') = (n_hard, n3, n1).
MOCHI_OPTIONS: dict[str, tuple[Param, Any]] = {
    "n_hard": (SYNCO_OPTIONS["n_hard"][0], 1024),
    "n1": (SYNCO_OPTIONS["n1"][0], 128),
    "n3": (SYNCO_OPTIONS["n3"][0], 1024),
    "warmup_epochs": SYNCO_OPTIONS["warmup_epochs"],
}
MOCHI_FIXED = {"n2": 0, "n4": 0, "n5": 0, "n6": 0}

METHOD_OPTIONS: dict[str, dict[str, tuple[Param, Any]]] = {
    "mocov2": {}, "supervised": {}, "synco": SYNCO_OPTIONS, "mochi": MOCHI_OPTIONS,
}


def option_params(method: str) -> dict[str, Param]:
    return {name: param for name, (param, _) in METHOD_OPTIONS.get(method, {}).items()}


def complete_options(method: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` checked against the method's options, with every default filled in."""
    schema = METHOD_OPTIONS.get(method, {})
    if given and not schema:
        raise ParameterError(f"method {method!r} takes no options, but got {', '.join(sorted(given))}")
    checked = check_all(option_params(method), given, f"method {method!r}")
    return {name: checked.get(name, default) for name, (_, default) in schema.items()}
