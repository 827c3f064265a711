"""Choices shared by the distillation CLI and its implementation (kept torch-free so that
building the `sea` argument parser does not import torch)."""

LOSSES = ("mse", "cosine", "relational", "mse+relational")
INTERMEDIATE = ("none", "alp")  # intermediate-layer term: attention-based layer projection
CENSOR = ("none", "scaffold")  # down-weight windows the student persistently cannot fit
AUGMENTS = ("none", "shift", "shift+gain")  # target-preserving input augmentations
# Student's last layer: "relu" keeps the SEA students' final BN+ReLU, "linear" drops it (for
# centred targets such as PCA outputs), "auto" picks from the sign of the targets.
FINAL_ACTIVATIONS = ("auto", "relu", "linear")
