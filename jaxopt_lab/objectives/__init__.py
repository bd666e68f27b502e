"""Pure loss functions: policy drifts and penalties, value losses."""

from jaxopt_lab.objectives.policy import (
    discovered_drift,
    drift_policy_loss,
    ppo_clip_loss,
    ppo_drift,
    zero_drift,
)
from jaxopt_lab.objectives.value import value_loss

__all__ = [
    "discovered_drift",
    "drift_policy_loss",
    "ppo_clip_loss",
    "ppo_drift",
    "value_loss",
    "zero_drift",
]
