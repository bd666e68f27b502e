"""On-policy reinforcement learning: the algorithms, their shared trainer, configs, presets."""

from jaxopt_lab.fields import static, traced
from jaxopt_lab.rl import algos
from jaxopt_lab.rl.algorithm import (
    ALGORITHMS,
    Algorithm,
    Batch,
    Context,
    MinibatchAlgorithm,
    register,
)
from jaxopt_lab.rl.config import TrainConfig
from jaxopt_lab.rl.gae import gae
from jaxopt_lab.rl.networks import Actor, Critic
from jaxopt_lab.rl.presets import ENV_PRESETS, config_for
from jaxopt_lab.rl.trainer import RunnerState, Trainer, make_train, make_trainer

__all__ = [
    "ALGORITHMS",
    "ENV_PRESETS",
    "Actor",
    "Algorithm",
    "Batch",
    "Context",
    "Critic",
    "MinibatchAlgorithm",
    "RunnerState",
    "TrainConfig",
    "Trainer",
    "algos",
    "config_for",
    "gae",
    "make_train",
    "make_trainer",
    "register",
    "static",
    "traced",
]
