"""Progress bars that render in notebooks and stay quiet in logs.

``SSLLIB_PROGRESS``: ``auto`` (default: a widget in a live notebook, a text bar on a
terminal, nothing when output goes to a file), ``text``, ``notebook`` or ``off``.
"""
from __future__ import annotations

import os
import sys

from ssllib.engine.distributed import is_main_process


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
    except ImportError:
        return False


def mode() -> str:
    chosen = os.environ.get("SSLLIB_PROGRESS", "auto")
    if chosen != "auto":
        return chosen
    if _in_notebook():
        return "notebook"
    return "text" if sys.stderr.isatty() else "off"


class _Silent:
    def __init__(self, *args, **kwargs):
        self.n = kwargs.get("initial", 0)

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass


def bar(total: int, desc: str, initial: int = 0, unit: str = "step"):
    """A tqdm bar (or a silent stand-in) with ``update``, ``set_postfix`` and ``close``; only the
    main process of a distributed run shows one."""
    chosen = mode()
    if chosen == "off" or not is_main_process():
        return _Silent(total=total, initial=initial)
    if chosen == "notebook":
        try:
            from tqdm.notebook import tqdm

            return tqdm(total=total, desc=desc, initial=initial, unit=unit, leave=True)
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, initial=initial, unit=unit, leave=True, dynamic_ncols=True,
                mininterval=1.0, file=sys.stderr)
