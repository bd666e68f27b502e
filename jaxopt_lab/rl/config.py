"""The training configuration: settings every algorithm shares, the algorithm, the environment.

:class:`TrainConfig` is a frozen dataclass and a pytree. Its ``static`` fields define the
compiled program (sizes, names, switches); its ``traced`` fields are the pytree's leaves: the
numbers users sweep, including the algorithm's own (``algo``, itself such a pytree) and the
environment's parameters (``env_params``, gymnax's ``EnvParams``). :meth:`TrainConfig.hparams`
turns the leaves into arrays; ``jax.vmap`` over a batch of them trains a population in one
program. Settings that belong to one algorithm live on that algorithm (``jaxopt_lab.rl.algos``).

Build configurations with :func:`jaxopt_lab.rl.config_for` (presets, then overrides); every
instance is validated when built.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.envs import validate_env_name
from jaxopt_lab.envs.gymnax_env import complete_params, default_params, settable_params
from jaxopt_lab.fields import (
    as_leaf_array,
    at_least,
    boolean,
    config_class,
    is_concrete,
    non_negative,
    one_of,
    optional,
    positive,
    sizes,
    static,
    traced,
    unit_interval,
)
from jaxopt_lab.rl.algorithm import ALGORITHMS, Algorithm, algorithm_names, own_fields
from jaxopt_lab.rl.algos import PPO
from jaxopt_lab.rl.optimizers import OPTIMIZER_STEPS

ACTIVATIONS = ("tanh", "relu")
BRAX_BACKENDS = ("spring", "positional", "generalized", "mjx")
BRAX_PREFIX = "brax/"


def _env_name(name: str, value: Any) -> None:
    validate_env_name(value)


@config_class
class TrainConfig:
    """Everything that defines a training run (see the module docstring)."""

    env: str = static("CartPole-v1", _env_name, "environment: a gymnax id or brax/<name>")
    algo: Algorithm = traced(PPO(), None, "the algorithm and its own settings", cli=False)
    env_params: Any = traced(None, None, "the environment's parameters", cli=False)
    total_timesteps: int = static(500_000, at_least(1), "env steps per run")
    num_envs: int = static(4, at_least(1), "parallel environments per run")
    num_steps: int = static(128, at_least(1), "rollout length per environment and update")
    update_epochs: int = static(4, at_least(1), "passes over each rollout in the minibatch loop")
    num_minibatches: int = static(4, at_least(1), "minibatches per pass")
    hidden_sizes: tuple[int, ...] = static((64, 64), sizes, "hidden layers of actor and critic")
    activation: str = static("tanh", one_of(ACTIVATIONS), "hidden activation")
    optimizer: str = static(
        "adam", one_of(tuple(OPTIMIZER_STEPS)), "optimizer of actor and critic (after clipping)"
    )
    sam_rho: float | None = static(
        None, optional(non_negative), "wrap the optimizer in SAM with this radius (None: no SAM)"
    )
    anneal_lr: bool = static(True, boolean, "anneal the learning rate linearly to 0")
    normalize_advantages: bool = static(True, boolean, "normalise advantages (zero mean, unit std)")
    clip_value_loss: bool = static(True, boolean, "clip the value update to +-clip_eps (PPO)")
    normalize_observations: bool = static(False, boolean, "running observation normalisation")
    normalize_rewards: bool = static(
        False, boolean, "divide rewards by the running std of the discounted return (gamma)"
    )
    brax_backend: str = static("spring", one_of(BRAX_BACKENDS), "brax physics backend")
    eval_episodes: int = static(16, at_least(1), "evaluation episodes per run after training")
    eval_deterministic: bool = static(False, boolean, "evaluate the policy's mode, not samples")
    learning_rate: float = traced(2.5e-4, positive, "learning rate of actor and critic")
    clip_eps: float = traced(0.2, positive, "PPO's ratio clip and the value-loss clip")
    ent_coef: float = traced(0.01, non_negative, "entropy bonus of the actor's objective")
    vf_coef: float = traced(0.5, non_negative, "scale of the critic's loss")
    gamma: float = traced(0.99, unit_interval, "discount (GAE and reward normalisation)")
    gae_lambda: float = traced(0.95, unit_interval, "GAE's lambda")
    max_grad_norm: float = traced(0.5, positive, "global-norm clip of each network's gradient")
    reward_scale: float = traced(1.0, positive, "reward multiplier (after normalisation)")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return self.total_timesteps // self.batch_size

    @property
    def is_brax(self) -> bool:
        return self.env.startswith(BRAX_PREFIX)

    def hparams(self) -> TrainConfig:
        """This config with its traced leaves as JAX arrays (float32, int32 or bool): what
        ``train(key, hparams)`` takes, and what ``vmap`` batches."""
        return jax.tree.map(as_leaf_array, self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: shared settings, ``algo`` (name and settings) and ``env_params``."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        shared["algo"] = self.algo.to_dict()
        shared["env_params"] = env_params_dict(self.env_params)
        return shared

    def _resolve(self) -> None:
        if isinstance(self.algo, str):
            object.__setattr__(self, "algo", algorithm_class(self.algo)())
        if isinstance(self.env_params, dict) or self.env_params is None:
            object.__setattr__(self, "env_params", make_env_params(self.env, self.env_params))

    def _check(self) -> None:
        if not isinstance(self.algo, Algorithm):
            raise ValueError(f"algo: got {self.algo!r}; must be an algorithm ({algorithm_names()})")
        clash = set(own_fields(self.algo)) & {f.name for f in dataclasses.fields(TrainConfig)}
        if clash:
            raise ValueError(f"algo: {self.algo.name} redefines shared settings {sorted(clash)}")
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
        self.algo.check_config(self)


def algorithm_class(name: str) -> type[Algorithm]:
    """The registered algorithm ``name``; ``ValueError`` naming the allowed ones."""
    if name not in ALGORITHMS:
        raise ValueError(f"algo: unknown value {name!r}; allowed: {', '.join(algorithm_names())}")
    return ALGORITHMS[name]


def make_env_params(env: str, overrides: dict[str, Any] | None) -> Any:
    """gymnax's ``EnvParams`` of ``env`` with ``overrides`` (``None`` for brax, which has no
    settable parameters). ``ValueError`` for an unknown or fixed parameter or a bad value."""
    validate_env_name(env)
    overrides = dict(overrides or {})
    if env.startswith(BRAX_PREFIX):
        if overrides:
            raise ValueError(f"env_params: {env} has no settable parameters")
        return None
    allowed = settable_params(env)
    for name, value in overrides.items():
        if name not in allowed:
            raise ValueError(
                f"env_params: {env} has no settable parameter {name!r}; allowed: "
                f"{', '.join(allowed)}"
            )
        if is_concrete(value) and not np.all(np.isfinite(np.asarray(value, np.float64))):
            raise ValueError(f"env_params.{name}: got {value}; must be finite")
    defaults = default_params(env)
    typed = {name: _like(value, getattr(defaults, name)) for name, value in overrides.items()}
    return complete_params(env, defaults.replace(**typed))


def _like(value: Any, default: Any) -> Any:
    """``value`` as an array when gymnax's default is one (e.g. Acrobot's torques)."""
    if isinstance(default, jax.Array | np.ndarray) and is_concrete(value):
        return jnp.asarray(value, default.dtype)
    return value


def config_from_dict(record: dict[str, Any]) -> TrainConfig:
    """The config :meth:`TrainConfig.to_dict` wrote (as read back from JSON)."""
    shared = dict(record)
    algo = dict(shared.pop("algo"))
    algo_cls = algorithm_class(algo.pop("name"))
    env_params = shared.pop("env_params", None)
    settable = settable_params(shared["env"]) if env_params is not None else ()
    shared["hidden_sizes"] = tuple(shared["hidden_sizes"])
    return TrainConfig(
        algo=algo_cls(**algo),
        env_params=make_env_params(shared["env"], {k: env_params[k] for k in settable}),
        **shared,
    )


def settable_env_params(env: str) -> tuple[str, ...]:
    """The environment parameters of ``env`` that can be set or swept (none for brax)."""
    return () if env.startswith(BRAX_PREFIX) else settable_params(env)


def env_params_dict(params: Any) -> dict[str, Any] | None:
    """The parameters as plain numbers and lists (for ``config.json``)."""
    if params is None:
        return None
    return {name: np.asarray(value).tolist() for name, value in vars(params).items()}
