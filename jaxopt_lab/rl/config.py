"""Static training configuration, traced hyperparameters and per-environment presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxopt_lab._checks import check_choice
from jaxopt_lab.envs import validate_env_name
from jaxopt_lab.objectives.learned_drift import LearnedDrift, load_learned_drift
from jaxopt_lab.rl.optimizers import LR_SCALE, OPTIMIZER_STEPS

ALGOS = ("ppo", "a2c", "dpo", "mdpo", "trpo", "lpo")
OPTIMIZERS = tuple(OPTIMIZER_STEPS)
ACTIVATIONS = ("tanh", "relu")
BRAX_BACKENDS = ("spring", "positional", "generalized", "mjx")


class HParams(NamedTuple):
    """Hyperparameters that are traced values, so ``vmap`` can sweep them."""

    learning_rate: jnp.ndarray
    clip_eps: jnp.ndarray
    ent_coef: jnp.ndarray
    vf_coef: jnp.ndarray
    gamma: jnp.ndarray
    gae_lambda: jnp.ndarray
    max_grad_norm: jnp.ndarray
    dpo_alpha: jnp.ndarray
    dpo_beta: jnp.ndarray
    max_kl: jnp.ndarray
    cg_damping: jnp.ndarray
    # A learned drift (algo lpo), a pytree of arrays: vmap over it trains a population of drifts.
    # Keep it the last field (it alone has a default; it is not a TrainConfig number).
    drift: LearnedDrift | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    Fields named in :class:`HParams` are the default values of the traced hyperparameters; the
    compiled program never reads them from here (:meth:`hparams` turns them into arrays), so
    runs that differ only in them share one compilation. All other fields are static.
    """

    env: str = "CartPole-v1"
    algo: str = "ppo"
    total_timesteps: int = 500_000
    num_envs: int = 4
    num_steps: int = 128
    update_epochs: int = 4
    num_minibatches: int = 4
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    optimizer: str = "adam"
    sam_rho: float | None = None
    """SAM's radius: wrap the optimizer (gradient clipping included) in ``jaxopt_lab.optim.sam``
    with this ``rho`` (0 is plain SAM bookkeeping with no perturbation); ``None``: no SAM."""
    anneal_lr: bool = True
    normalize_advantages: bool = True
    clip_value_loss: bool = True
    normalize_observations: bool = False
    normalize_rewards: bool = False
    reward_scale: float = 1.0
    brax_backend: str = "spring"
    eval_episodes: int = 16
    eval_deterministic: bool = False
    learning_rate: float = 2.5e-4
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    max_grad_norm: float = 0.5
    dpo_alpha: float = 2.0
    dpo_beta: float = 0.6
    max_kl: float = 0.01
    cg_damping: float = 0.1
    mdpo_steps: int = 10
    cg_iterations: int = 10
    fisher_subsample: int = 1
    anneal_max_kl: bool = False
    backtrack_coef: float = 0.8
    backtrack_steps: int = 10
    drift: str | None = None
    """Learned drift file for algo lpo (written by experiments/lpo_meta.py)."""

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    def hparams(self) -> HParams:
        """The traced hyperparameters as float32 scalars, and the drift file's drift."""
        numbers = [name for name in HParams._fields if name != "drift"]
        drift = load_learned_drift(self.drift) if self.drift is not None else None
        return HParams(*(jnp.float32(getattr(self, name)) for name in numbers), drift=drift)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the field, its value and what is allowed."""
        check_choice("algo", self.algo, ALGOS)
        if self.drift is not None:
            if self.algo != "lpo":
                raise ValueError(f"drift: a learned drift is for algo lpo, not {self.algo!r}")
            load_learned_drift(self.drift)  # ValueError for a wrong file
        validate_env_name(self.env)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.sam_rho is not None and not self.sam_rho >= 0:
            raise ValueError(f"sam_rho: got {self.sam_rho}; must be >= 0 (or None for no SAM)")
        check_choice("brax_backend", self.brax_backend, BRAX_BACKENDS)
        for name in ("num_envs", "num_steps", "update_epochs", "num_minibatches", "eval_episodes"):
            _positive(name, getattr(self, name))
        for name in ("total_timesteps", "learning_rate", "max_grad_norm", "reward_scale"):
            _positive(name, getattr(self, name))
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes: got {self.hidden_sizes}; need positive sizes")
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"num_minibatches: num_envs * num_steps = {self.batch_size} is not divisible by "
                f"num_minibatches = {self.num_minibatches}"
            )
        if self.num_updates < 1:
            raise ValueError(
                f"total_timesteps: {self.total_timesteps} is less than one batch "
                f"(num_envs * num_steps = {self.batch_size})"
            )
        if self.clip_eps <= 0:
            raise ValueError(f"clip_eps: got {self.clip_eps}; must be > 0")
        for name in ("mdpo_steps", "cg_iterations", "backtrack_steps", "fisher_subsample"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}; must be >= 1")
        if not 0.0 < self.backtrack_coef < 1.0:
            raise ValueError(f"backtrack_coef: got {self.backtrack_coef}; must be in (0, 1)")
        for name in ("dpo_alpha", "dpo_beta", "max_kl"):
            _positive(name, getattr(self, name))
        for name in ("ent_coef", "vf_coef", "cg_damping"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: got {getattr(self, name)}; must be >= 0")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: got {getattr(self, name)}; must be in [0, 1]")
        return self


def _positive(field: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{field}: got {value}; must be > 0")


PRESETS: dict[str, dict[str, Any]] = {
    # SPEC section 2's canonical config (the TrainConfig defaults); also solves Acrobot.
    "CartPole-v1": {},
    "Acrobot-v1": {},
    # Continuous control: larger batches, more epochs, shorter horizon, normalised rewards
    # (unnormalised Pendulum returns make the critic's gradient dominate the shared clip norm).
    "Pendulum-v1": {
        "total_timesteps": 2_000_000,
        "num_envs": 16,
        "num_steps": 128,
        "update_epochs": 10,
        "num_minibatches": 32,
        "learning_rate": 1e-3,
        "ent_coef": 0.0,
        "gamma": 0.95,
        "normalize_rewards": True,
    },
    # MinAtar: gymnax-baselines' batch shape (64 envs x 128 steps, 4 x 8 minibatches) with a
    # long horizon, a constant learning rate and a larger entropy bonus. With gamma 0.99 and
    # ent 0.01 the policy's entropy collapsed to 0.2 within 1M steps and returns stalled near 7;
    # a 3M-step sweep (2 seeds each) gave 6.8 (0.99, 0.01), 9.0 (0.999, 0.01), 9.1 (0.99, 0.03)
    # and 13.7 (0.999, 0.03), still rising. At 1e7 steps (4 seeds): 64-64 networks IQM 22.0,
    # 128-128 IQM 26.0, 256-256 (as the gymnax baselines) IQM 49.6 (target 28).
    "Breakout-MinAtar": {
        "total_timesteps": 10_000_000,
        "num_envs": 64,
        "num_steps": 128,
        "update_epochs": 4,
        "num_minibatches": 8,
        "learning_rate": 5e-4,
        "anneal_lr": False,
        "gamma": 0.999,
        "ent_coef": 0.03,
        "hidden_sizes": (256, 256),
        "activation": "relu",
    },
    # brax: normalised observations and rewards, no entropy bonus. gamma 0.99, not brax's
    # 0.97: the episode ends when the pole tips, which the cart's slow drift along its rail
    # causes hundreds of steps later. A gamma sweep (3 seeds, 2e6 steps, final return) gave
    # PPO 819 / 917 / 924, TRPO 446 / 876 / 889, DPO 697 / 796 / 733 at 0.97 / 0.99 / 0.995.
    "brax/inverted_pendulum": {
        "total_timesteps": 2_000_000,
        "num_envs": 32,
        "num_steps": 64,
        "update_epochs": 4,
        "num_minibatches": 8,
        "learning_rate": 3e-4,
        "ent_coef": 0.0,
        "gamma": 0.99,
        "normalize_observations": True,
        "normalize_rewards": True,
        "eval_episodes": 4,
    },
}


# What defines an algorithm on the shared trainer, applied over the environment preset.
ALGO_PRESETS: dict[str, dict[str, Any]] = {
    "ppo": {},
    # Huang et al. 2022, "A2C is a special case of PPO": one full-batch step per rollout, so
    # r = 1 and the clip never binds; PyTorch-style RMSprop (SPEC section 2).
    "a2c": {
        "num_steps": 5,
        "update_epochs": 1,
        "num_minibatches": 1,
        "gae_lambda": 1.0,
        "normalize_advantages": False,
        "clip_value_loss": False,
        "ent_coef": 0.0,
        "learning_rate": 7e-4,
        "anneal_lr": False,
        "max_grad_norm": 0.5,
        "vf_coef": 0.5,
        "optimizer": "rmsprop",
    },
    "dpo": {},
    # Tomar et al. 2022 on-policy MDPO: 10 full-batch Adam steps at lr 3e-4 per iteration.
    "mdpo": {"mdpo_steps": 10, "learning_rate": 3e-4, "ent_coef": 0.0},
    # Schulman et al. 2015: KL-constrained natural gradient; critic fitted with Adam. Fisher on
    # every 5th sample (as OpenAI baselines) and the trust region annealed like PPO's learning
    # rate: with a constant 0.01 the steps stay full-size to the end, and on CartPole 3 of 8
    # seeds fell from 500 to 140-320 in the last 10% of training (IQM 432).
    "trpo": {
        "max_kl": 0.01,
        "anneal_max_kl": True,
        "cg_damping": 0.1,
        "cg_iterations": 10,
        "fisher_subsample": 5,
        "ent_coef": 0.0,
    },
    # Lu et al. 2022: LPO is PPO's setting with a learned drift in place of the clip.
    "lpo": {},
}


# Tuned for one (environment, algorithm) pair, applied over both presets above.
PAIR_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    # With the paper's alpha = 2 the drift barely restrains steps on positive advantages here:
    # the policy's entropy rose from 1.42 to 1.60 during training (PPO's fell to 0.75) and the
    # final return stalled near 700. Final return (gamma 0.99, 2e6 steps, two sets of 4 seeds):
    # alpha 2: 713; 1: 793; 0.5: 764; 0.25: 955 and 849; 0.1: 915 (second set only).
    ("brax/inverted_pendulum", "dpo"): {"dpo_alpha": 0.25},
}


def config_for(env: str = "CartPole-v1", algo: str = "ppo", **overrides: Any) -> TrainConfig:
    """The library's defaults for ``env`` (``PRESETS``), then ``algo`` (``ALGO_PRESETS``), then
    the pair's (``PAIR_PRESETS``), then ``overrides``.

    An ``optimizer`` override without a ``learning_rate`` one rescales the preset's learning
    rate to that optimizer (``jaxopt_lab.rl.optimizers.LR_SCALE``, e.g. 5x smaller for Lion);
    an explicit ``learning_rate`` is used as given.
    """
    check_choice("algo", algo, ALGOS)
    preset = {**PRESETS.get(env, {}), **ALGO_PRESETS[algo], **PAIR_PRESETS.get((env, algo), {})}
    optimizer = overrides.get("optimizer")
    if optimizer in LR_SCALE and "learning_rate" not in overrides:
        tuned_for = preset.get("optimizer", TrainConfig.optimizer)
        learning_rate = preset.get("learning_rate", TrainConfig.learning_rate)
        scaled = learning_rate * LR_SCALE[optimizer] / LR_SCALE[tuned_for]
        preset["learning_rate"] = float(f"{scaled:.12g}")  # 6e-05, not 5.9999999999999995e-05
    return TrainConfig(env=env, algo=algo, **{**preset, **overrides})
