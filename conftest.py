"""Test-session settings: chapters run at the smoke profile, without progress bars, and write
their runs to a temporary results folder (so every test run trains afresh)."""
import os
import tempfile

os.environ.setdefault("SSLLIB_PROFILE", "smoke")
os.environ.setdefault("SSLLIB_PROGRESS", "off")
os.environ.setdefault("SSLLIB_RESULTS", tempfile.mkdtemp(prefix="ssllib-test-results-"))
os.environ.setdefault("MPLBACKEND", "Agg")
