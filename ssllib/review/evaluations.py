"""What kind of evaluation a number comes from, declared for published rows and runs alike.

A ranking compares methods only where their numbers were measured the same way: a published
linear-probe accuracy is set against our linear-probe accuracy, never against our kNN
accuracy, and a transfer result against a transfer result. Every published row names its
evaluation in the ``evaluation`` column of its ``reported.csv``; a run's metric takes it from
:data:`METRIC_EVALUATIONS` by the metric's name, except where the metric's own protocol says it
was measured on another dataset than the network learnt from (a transfer probe's ``test_top1``).
"""
from __future__ import annotations

# The evaluations, with what each means.
EVALUATIONS = {
    "linear": "a linear classifier trained on the frozen network's features, on the dataset it learnt from",
    "linear (online)": "a linear classifier trained alongside the network on its detached features",
    "kNN": "a k-nearest-neighbour vote over the frozen features of labelled training images",
    "kNN (monitor)": "the kNN vote used to watch training, on training images held out from the bank",
    "fine-tune": "the whole network trained further on a downstream task (detection)",
    "test": "the trained network's own classifier on the test split (supervised, distilled or whole-slide)",
    "validation": "the trained network's own classifier on the validation split",
    "transfer linear": "a linear classifier on the frozen network's features of another dataset",
    "retrieval": "ranking a gallery of another domain by similarity to a query (precision, mAP)",
}

# A run's metric → its evaluation (retrieval metrics, named P@K, by their prefix).
METRIC_EVALUATIONS = {
    "knn_top1": "kNN", "knn_monitor_top1": "kNN (monitor)", "linear_top1": "linear",
    "test_top1": "test", "test_top1_best": "test", "teacher_top1": "test", "test_auc": "test",
    "test_accuracy": "test", "val_accuracy": "validation", "mAP": "retrieval",
}
NOT_DECLARED = "not declared"


def run_evaluation(metric: str, protocol) -> str:
    """The evaluation of a run's ``metric`` (its name, without a retrieval direction) whose
    recorded ``protocol`` is given; :data:`NOT_DECLARED` for a metric the book does not know,
    which no comparison then uses."""
    said = protocol.get("protocol") if isinstance(protocol, dict) else protocol
    if isinstance(said, str) and "transfer" in said:
        return "transfer linear"
    if metric.startswith("P@"):
        return "retrieval"
    return METRIC_EVALUATIONS.get(metric, NOT_DECLARED)
