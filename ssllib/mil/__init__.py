"""The whole-slide family (the Divide-and-Distill chapter): bags of instance features, the MIL
aggregators, the partition of the training slides, and the distillation of experts into one
student."""
