"""A ``--plugin`` for ``python -m ssllib.train`` that SIGKILLs its own process in the middle of
the N-th checkpoint write ($SSLLIB_KILL_AT_WRITE), after half of the temporary file is on disk:
what a power cut or the OOM killer does at the worst moment."""
import os
import signal

import ssllib.engine.checkpoint as checkpoint

_calls = {"n": 0}
_real_save = checkpoint.torch.save


def _dying_save(state, f, *args, **kwargs):
    _calls["n"] += 1
    if _calls["n"] == int(os.environ.get("SSLLIB_KILL_AT_WRITE", "0")):
        import io
        buffer = io.BytesIO()
        _real_save(state, buffer)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_save(state, f, *args, **kwargs)


checkpoint.torch.save = _dying_save
