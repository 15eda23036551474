"""Test-session settings: chapters run at the smoke profile, without progress bars, and write
their runs to a temporary results folder (so every test run trains afresh).

The tests run on pytest-xdist workers, one a core (``-n auto`` in pyproject.toml; ``-n 0`` runs
them in one process). Each worker has a results folder of its own (two processes training one
run into one folder would remove each other's half-written checkpoints) and an equal share of
the cores for torch's threads, so the workers do not oversubscribe the machine."""
import os
import shutil
import tempfile

os.environ.setdefault("SSLLIB_PROFILE", "smoke")
os.environ.setdefault("SSLLIB_PROGRESS", "off")
# The folder this session made (the workers inherit its name), removed when the session ends;
# one named in SSLLIB_RESULTS by whoever runs the tests is theirs and stays.
MADE_RESULTS = None
if "SSLLIB_RESULTS" not in os.environ:
    MADE_RESULTS = os.environ["SSLLIB_RESULTS"] = tempfile.mkdtemp(prefix="ssllib-test-results-")
os.environ.setdefault("MPLBACKEND", "Agg")

if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["SSLLIB_RESULTS"] = os.path.join(os.environ["SSLLIB_RESULTS"], worker)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))


def pytest_unconfigure(config):
    """Remove the results folder this session made (about 90 MB of runs): each test run trains
    afresh, so nothing in it is read again, and a machine running the tests often fills its disk."""
    if MADE_RESULTS and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(MADE_RESULTS, ignore_errors=True)
