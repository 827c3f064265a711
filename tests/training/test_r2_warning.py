"""A negative or tiny validation R^2 gets a warning that says what it means."""

import math

from training.r2_warning import LOW_R2, low_r2_warning


def test_low_r2_warns_and_explains():
    assert "worse than a constant" in low_r2_warning(-0.3)
    assert "hardly better than a constant" in low_r2_warning(LOW_R2 / 2)
    assert low_r2_warning(LOW_R2) is None and low_r2_warning(0.8) is None
    assert low_r2_warning(None) is None and low_r2_warning(math.nan) is None
