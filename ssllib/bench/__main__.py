"""``python -m ssllib.bench``: the step benchmark (:mod:`ssllib.bench.step`)."""
from ssllib.bench.step import main

main()
