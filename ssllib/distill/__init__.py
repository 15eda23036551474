"""Knowledge distillation on the CIFAR-100 benchmark of CRD, as RRD and DCD use it.

- :mod:`~ssllib.distill.zoo`: the benchmark's networks, each returning (features, logits);
- :mod:`~ssllib.distill.losses`: KD, CRD's NCE and RRD's loss as pure functions;
- :mod:`~ssllib.distill.crd`, :mod:`~ssllib.distill.rrd`, :mod:`~ssllib.distill.dcd`: each method's
  heads and memory;
- :mod:`~ssllib.distill.config`, :mod:`~ssllib.distill.model`, :mod:`~ssllib.distill.trainer`: one
  run from its configuration (teachers are runs too, trained once and reused);
- :mod:`~ssllib.distill.transfer`, :mod:`~ssllib.distill.experiments`: what the chapters do with runs.
"""
