"""Knowledge distillation on the CIFAR-100 benchmark of CRD, as RRD and DCD use it.

- :mod:`~ssllib.distill.losses`: KD, CRD's NCE and RRD's loss as pure functions;
- :mod:`~ssllib.distill.kd`, :mod:`~ssllib.distill.crd`, :mod:`~ssllib.distill.rrd`,
  :mod:`~ssllib.distill.dcd`: each method's heads, memory and declaration;
- :mod:`~ssllib.distill.config`, :mod:`~ssllib.distill.model`, :mod:`~ssllib.distill.trainer`: one
  run from its configuration (teachers are runs too, trained once and reused).

The benchmark's networks are in :mod:`ssllib.nets.zoo`; the transfer probe in
:mod:`ssllib.evaluate.transfer`.
"""
