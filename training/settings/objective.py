"""The distillation objective's settings (training.kd.objective): kept torch-free so that
building the `sea` argument parser does not import torch."""

from __future__ import annotations

from dataclasses import dataclass

from sea.settings import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, OneOf, Settings, setting

LOSSES = ("mse", "cosine", "relational", "mse+relational")
INTERMEDIATE = ("none", "alp")  # intermediate-layer term: attention-based layer projection
CENSOR = ("none", "scaffold")  # down-weight windows the student persistently cannot fit


@dataclass(frozen=True, kw_only=True)
class ObjectiveOptions(Settings):
    loss: str = setting(
        "mse", check=OneOf(LOSSES),
        help="mse to the targets (the paper), cosine, relational (KL between teacher and "
             "student similarity distributions over an anchor queue), or mse+relational")
    relational_weight: float = setting(1.0, check=NON_NEGATIVE,
                                       help="weight of the relational term of mse+relational")
    relational_bank: int = setting(4096, check=AT_LEAST_ONE,
                                   help="anchor queue size of the relational loss, windows")
    relational_temperature: float = setting(0.1, check=POSITIVE,
                                            help="softmax temperature of the relational loss")
    intermediate: str = setting(
        "none", check=OneOf(INTERMEDIATE),
        help="alp: match each student block to an attention-weighted mix of all teacher blocks "
             "(needs `sea teacher-embed --block-features`)")
    alp_weight: float = setting(1.0, check=NON_NEGATIVE, help="weight of the alp term")
    censor: str = setting(
        "none", check=OneOf(CENSOR),
        help="scaffold: down-weight windows whose running error stays far above the batch's")
    censor_factor: float = setting(
        3.0, check=POSITIVE, help="censor a window above this many times the batch mean error")
    censor_weight: float = setting(0.0, check=NON_NEGATIVE,
                                   help="weight of a censored window (0: dropped while censored)")

    @property
    def term_names(self) -> tuple[str, ...]:
        names = {"mse": ("mse",), "cosine": ("cosine",), "relational": ("relational",),
                 "mse+relational": ("mse", "relational")}[self.loss]
        return names + (("alp",) if self.intermediate == "alp" else ())
