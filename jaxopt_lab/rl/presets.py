"""Presets and the one config resolution every entry point uses (:func:`config_for`).

A configuration is resolved in this order, each layer over the previous:
1. the environment's preset (``ENV_PRESETS``),
2. the algorithm's ``preset`` (shared settings it changes everywhere),
3. the algorithm's ``env_presets[env]`` (tuned for that pair),
4. the optimizer's learning-rate scale (``jaxopt_lab.rl.optimizers.LR_SCALE``) when the user
   picks an optimizer without a learning rate,
5. the user's overrides.
Keys may name shared settings (:class:`TrainConfig` fields) or the algorithm's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxopt_lab.rl.algorithm import Algorithm, own_fields
from jaxopt_lab.rl.config import TrainConfig, algorithm_class, make_env_params
from jaxopt_lab.rl.optimizers import LR_SCALE

ENV_PRESETS: dict[str, dict[str, Any]] = {
    # The canonical PPO config (TrainConfig's defaults: Schulman et al. 2017 / Huang et al.
    # 2022's CartPole settings); also solves Acrobot.
    "CartPole-v1": {},
    "Acrobot-v1": {},
    # Continuous control: larger batches, more epochs, shorter horizon, normalised rewards
    # (unnormalised Pendulum returns make the critic's gradient dominate the clip).
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


def config_for(
    env: str = "CartPole-v1",
    algo: str | type[Algorithm] = "ppo",
    env_params: dict[str, Any] | None = None,
    **overrides: Any,
) -> TrainConfig:
    """The resolved, validated config of ``algo`` on ``env`` (see the module docstring).

    ``algo`` is a registered name or an :class:`Algorithm` subclass; ``overrides`` set shared
    settings or the algorithm's own; ``env_params`` set gymnax environment parameters (e.g.
    ``{"length": 0.75}`` for CartPole). ``ValueError`` names any unknown or bad setting.
    """
    algo_class = algorithm_class(algo) if isinstance(algo, str) else algo
    layers = resolved_layers(env, algo_class, overrides)
    shared_names = {f.name for f in dataclasses.fields(TrainConfig)} - {"env", "algo", "env_params"}
    own_names = set(own_fields(algo_class))
    unknown = set(layers) - shared_names - own_names
    if unknown:
        allowed = ", ".join(sorted(shared_names | own_names))
        raise ValueError(
            f"{sorted(unknown)[0]}: not a setting of algo {algo_class.name}; allowed: {allowed}"
        )
    own = {k: v for k, v in layers.items() if k in own_names}
    shared = {k: v for k, v in layers.items() if k in shared_names}
    return TrainConfig(
        env=env, algo=algo_class(**own), env_params=make_env_params(env, env_params), **shared
    )


def resolved_layers(env: str, algo: type[Algorithm], overrides: dict[str, Any]) -> dict:
    """Layers 1-5 merged into one ``{setting: value}``."""
    settings = {**ENV_PRESETS.get(env, {}), **algo.preset, **algo.env_presets.get(env, {})}
    optimizer = overrides.get("optimizer")
    if optimizer in LR_SCALE and "learning_rate" not in overrides:
        tuned_for = settings.get("optimizer", TrainConfig.optimizer)
        learning_rate = settings.get("learning_rate", TrainConfig.learning_rate)
        scaled = learning_rate * LR_SCALE[optimizer] / LR_SCALE[tuned_for]
        settings["learning_rate"] = float(f"{scaled:.12g}")  # 6e-05, not 5.9999999999999995e-05
    return {**settings, **overrides}
