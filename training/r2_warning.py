"""What a low validation R^2 after distillation means, in one warning line."""

from __future__ import annotations

import math

LOW_R2 = 0.1  # below this the student explains (almost) none of the target variance


def low_r2_warning(r2: float | None) -> str | None:
    """A warning for a negative or tiny validation R^2 (None when it is fine or unknown)."""
    if r2 is None or (isinstance(r2, float) and math.isnan(r2)) or r2 >= LOW_R2:
        return None
    worse = "worse than" if r2 < 0 else "hardly better than"
    return (f"validation R^2 is {r2:.3f}: on held-out clips the student predicts the teacher's "
            f"reduced embedding {worse} a constant (the mean target), so it has not learned the "
            "teacher yet; train longer (--epochs), on more clips, or with another --lr")
