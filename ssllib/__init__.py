"""ssllib: the small shared library behind the reproducible paper book.

Data, batched on-device augmentation, networks, the momentum base and its methods, losses,
the training loop, evaluation, the results ledger, plots and the book builder.
"""
__version__ = "0.1.0"
