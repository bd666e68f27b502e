"""On-policy reinforcement learning: networks, rollout, GAE and the shared trainer."""

from jaxopt_lab.rl.config import PRESETS, HParams, TrainConfig, config_for
from jaxopt_lab.rl.gae import gae
from jaxopt_lab.rl.networks import ActorCritic
from jaxopt_lab.rl.trainer import RunnerState, Trainer, make_train, make_trainer

__all__ = [
    "PRESETS",
    "ActorCritic",
    "HParams",
    "RunnerState",
    "TrainConfig",
    "Trainer",
    "config_for",
    "gae",
    "make_train",
    "make_trainer",
]
