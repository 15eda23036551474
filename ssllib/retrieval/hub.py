"""Where a Hugging Face model loads from: nothing is fetched unless the user asked for it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path


def resolve_model(name: str, allow_download: bool, what: str, offline_default: str) -> str:
    """A local folder (resolved), or the hub name itself only with ``allow_download``;
    anything else is refused in one sentence that names the offline default."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if allow_download:
        return name
    raise ValueError(f"{what}={name!r} is neither {offline_default!r} (shipped offline) nor a local folder; to fetch "
                     f"it from the Hugging Face hub, pass allow_download=True")


@contextmanager
def quiet_loading():
    """No per-tensor 'Loading weights' progress bar from transformers while a model loads (a
    chapter's output should hold results, not a bar of a second); restored afterwards."""
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            logging.enable_progress_bar()
