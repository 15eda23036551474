"""The cross-domain retrieval family (the Caption-Matching chapter): text encoders, captioners
and the caption cache; the metrics are :mod:`ssllib.evaluate.retrieval`."""
