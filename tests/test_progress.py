"""Progress outside a terminal: plain lines with the time elapsed and left, and the epoch a run resumed from."""
import io
import json
import os
import subprocess
import sys

from ssllib.engine import progress


def test_lines_say_epoch_elapsed_left_and_where_a_run_resumed():
    stream = io.StringIO()
    lines = progress.Lines(total=10, desc="moco seed 0", steps_per_epoch=5, every=3, stream=stream)
    for step in range(10):
        lines.update()
        if (step + 1) % 5 == 0:
            lines.set_postfix(epoch=(step + 1) // 5, loss="1.234")
    said = stream.getvalue().splitlines()
    assert said[0].startswith("moco seed 0: epoch 1/2, step 3/10 (30%), 0:00:00 elapsed, about ")
    assert any(line.startswith("moco seed 0: epoch 1/2, step 5/10") and line.endswith("; loss 1.234") for line in said)
    assert said[-1].startswith("moco seed 0: epoch 2/2, step 10/10 (100%)")
    assert sum("left" in line for line in said) == len(said)

    stream = io.StringIO()
    progress.Lines(total=10, desc="moco seed 0", initial=5, steps_per_epoch=5, stream=stream)
    assert stream.getvalue() == "moco seed 0: resumed from epoch 1 (step 5 of 10)\n"


def test_a_run_whose_stderr_is_a_file_prints_a_line_per_epoch(tmp_path):
    config = dict(dataset="digits", width=8, image_size=16, epochs=2, batch_size=64, queue_size=256, lr=0.05,
                  bn_splits=2, monitor_every=0, knn_k=20, seed=0, num_workers=0)
    (tmp_path / "run.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != "SSLLIB_PROGRESS"}
    with open(tmp_path / "stderr.log", "w") as err:
        subprocess.run([sys.executable, "-m", "ssllib.train", str(tmp_path / "run.json"), "--runs-dir",
                        str(tmp_path / "runs"), "--ledger-dir", str(tmp_path / "ledger")],
                       env={**env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=err, check=True,
                       timeout=300)
    said = (tmp_path / "stderr.log").read_text()
    assert "mocov2 seed 0: epoch 1/2, step" in said and "mocov2 seed 0: epoch 2/2, step" in said, said
    assert "elapsed, about" in said
