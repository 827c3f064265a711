"""Distillation objectives beyond MSE: relational (similarity-distribution), intermediate-layer
(attention-based layer projection), censoring of hard windows, and exact augmentations."""
