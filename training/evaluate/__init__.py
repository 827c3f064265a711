"""Downstream evaluation: small scikit-learn classifiers on clip embeddings, run with each
dataset's own fold protocol, reported as tables and plots (`sea evaluate`)."""
