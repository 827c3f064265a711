"""The report's PCA maps are readable at 100 % zoom: each multi-label panel is at least
400 x 360 px (4 x 3.6 in at the report's 110 dpi), however many classes there are."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from training.evaluate import plots  # noqa: E402


@pytest.mark.parametrize("n_classes", [2, 8])
def test_multilabel_pca_panels_have_a_readable_size(tmp_path, n_classes):
    from PIL import Image

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 16))
    y = rng.random((60, n_classes)) < 0.3
    classes = [f"class {k}" for k in range(n_classes)]
    path = plots.embedding_map_multilabel(X, y, classes, "student, int8 TFLite bundle",
                                          tmp_path / "pca.png")
    cols = min(3, n_classes)
    rows = -(-n_classes // cols)
    width, height = Image.open(path).size
    assert width / cols >= 400 and height / rows >= 360, (width, height)
