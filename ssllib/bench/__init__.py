"""The step benchmark: ``python -m ssllib.bench`` (:mod:`~ssllib.bench.step`) and the `lightly` peer it is
timed against (:mod:`~ssllib.bench.peer`)."""
