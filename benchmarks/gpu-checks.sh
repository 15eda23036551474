#!/bin/sh
# The GPU measurements of the step-at-the-compute-limit issue, as one run for a lent machine:
#   run: sh benchmarks/gpu-checks.sh      (records land in $OUT/results/bench/, about 10 minutes on an H200)
# Needs the repository's environment (pip install -e .[dev,bench]); makes its own CIFAR-10-shaped data.
set -e
OUT=${OUT:-/tmp/gpu-checks}
export SSLLIB_RESULTS="$OUT/results" SSLLIB_DATA="$OUT/data"
mkdir -p "$SSLLIB_DATA"
[ -d "$SSLLIB_DATA/cifar-10-batches-py" ] || python -c "
from pathlib import Path; from tests.fixtures import make_cifar10; make_cifar10(Path('$SSLLIB_DATA'), per_batch=10000)"
# The CIFAR-10 preset: full step against bare encoders, eager then compiled (views compiled too).
python -m ssllib.bench --profile paper --dataset cifar10 --steps 40 --epoch --peer-workers -1 --synco-rounds 8 --vit-rounds 0
python -m ssllib.bench --profile paper --dataset cifar10 --steps 40 --epoch --compile --peer-workers -1 --synco-rounds 0 --vit-rounds 0
# The views alone, five ways, at the CIFAR preset and at ImageNet's size.
python -m ssllib.bench.augment --batch 512 --size 32 --device cuda
python -m ssllib.bench.augment --batch 256 --source 256 --size 224 --device cuda
# The JPEG path: workers, and decoding on the GPU.
python -m ssllib.bench.jpeg --images 2048 --workers 0,4,8,16 --device cuda
# SynCo ÷ MoCo-v2 at the ImageNet recipe (ResNet-50, 224 px, batch 256, K 65,536).
python -m ssllib.bench --profile paper --dataset cifar10 --steps 2 --peer-workers -1 --synco-rounds 0 --vit-rounds 0 --paper-synco-rounds 8
# The paper path end to end on the GPU: the RRD chapter at its paper recipe, budget tiny, on fixtures.
python benchmarks/paper-dry-run.py --device cuda --only rrd,foundations --machine gpu
# The SGD linear probe with the features on the GPU (MoCo's batch 256), up to 400k × 2,048 features.
python benchmarks/linear-probe-scale.py --solver sgd --device cuda --sizes 100000,400000 --iters 2 --machine gpu
