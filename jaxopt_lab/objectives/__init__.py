"""Pure loss functions: policy drifts and penalties, value losses."""

from jaxopt_lab.objectives.policy import drift_policy_loss, ppo_clip_loss, ppo_drift
from jaxopt_lab.objectives.value import value_loss

__all__ = ["drift_policy_loss", "ppo_clip_loss", "ppo_drift", "value_loss"]
