"""What a run is: one identity function for every family, and digests of trained state.

A run is named by its *setting* (what it computes: the configuration fields that matter, and the
settings of the runs it reads, such as its teacher) and by the *code* it depends on (the
normalised fingerprint of :mod:`ssllib.engine.fingerprint`):

- ``setting``: sha256 of the identity fields and the inputs' settings, without code. Two runs
  with the same setting compute the same thing, under possibly different code: the later one
  can be checked against the earlier by a short prefix (:mod:`ssllib.engine.verify`) instead
  of being trained again.
- ``run_id``: a readable prefix and sha256 of the identity fields, the inputs' run ids and the
  code. A run's results (record, artifacts, checkpoint) are kept under this name.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

import torch


@dataclass(frozen=True)
class Input:
    """A run another run reads (its teacher, its encoder, the model it starts from)."""

    run_id: str
    setting: str


@dataclass(frozen=True)
class RunKey:
    run_id: str
    setting: str
    code: str
    inputs: dict          # name → upstream run id (what the record lists)


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_key(readable: str, identity: Mapping[str, Any], code: str,
            inputs: Mapping[str, Input | str] | None = None) -> RunKey:
    """The run's id and setting. ``identity``: the fields that decide what it computes;
    ``inputs``: the runs it reads (an :class:`Input`), or plain keys of data it reads (a str:
    the same in the setting and the id)."""
    inputs = dict(inputs or {})
    settings = {k: (v.setting if isinstance(v, Input) else v) for k, v in inputs.items()}
    ids = {k: (v.run_id if isinstance(v, Input) else v) for k, v in inputs.items()}
    setting = _hash({"identity": dict(identity), "inputs": settings})
    run_id = f"{readable}-{_hash({'identity': dict(identity), 'inputs': ids, 'code': code})}"
    return RunKey(run_id, setting, code, {k: v.run_id for k, v in inputs.items() if isinstance(v, Input)})


def _feed(digest, value) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"tensor{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, Mapping):
        digest.update(b"{")
        for key in sorted(value, key=str):
            digest.update(str(key).encode())
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    else:
        digest.update(repr(value).encode())


def state_digest(*states: Any) -> str:
    """sha256 of trained state (state dicts, optimiser states, nested lists and numbers), bit
    for bit: equal digests mean equal tensors, dtypes and shapes."""
    digest = hashlib.sha256()
    for state in states:
        _feed(digest, state)
    return digest.hexdigest()
