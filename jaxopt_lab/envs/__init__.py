"""gymnax and brax environments behind one small functional interface."""

from __future__ import annotations

from typing import Any

import gymnax
import jax

from jaxopt_lab.envs.core import ActionSpec, Env, Step, Wrapper
from jaxopt_lab.envs.gymnax_env import GymnaxEnv
from jaxopt_lab.envs.wrappers import (
    ClipAction,
    EpisodeStatistics,
    NormalizeObservation,
    NormalizeReward,
    RunningMeanStd,
    ScaleReward,
    VecEnv,
    normalize_observation,
)

BRAX_PREFIX = "brax/"


def brax_env_names() -> list[str]:
    """``brax/<name>`` for every environment brax registers."""
    from jaxopt_lab.envs.brax_env import brax_envs

    return sorted(BRAX_PREFIX + name for name in brax_envs._envs)


def available_envs() -> list[str]:
    """Every id :func:`make_env` accepts: gymnax's registered ids and ``brax/<name>``."""
    return sorted(gymnax.registered_envs) + brax_env_names()


def validate_env_name(name: str) -> None:
    """Raise ``ValueError`` naming the allowed ids when ``name`` is not one of them."""
    if name in gymnax.registered_envs:
        return
    if name.startswith(BRAX_PREFIX) and name in brax_env_names():
        return
    raise ValueError(
        f"env: unknown environment {name!r}; allowed: any gymnax id "
        f"({', '.join(sorted(gymnax.registered_envs))}) or brax/<name> "
        f"({', '.join(brax_env_names())})"
    )


def make_base_env(name: str, brax_backend: str = "spring") -> Env:
    """A single, unwrapped environment for a gymnax id or ``brax/<name>``."""
    validate_env_name(name)
    if name.startswith(BRAX_PREFIX):
        from jaxopt_lab.envs.brax_env import BraxEnv

        return BraxEnv(name[len(BRAX_PREFIX) :], backend=brax_backend)
    return GymnaxEnv(name)


def make_vec_env(
    env: str | Env,
    num_envs: int,
    *,
    params: Any = None,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    gamma: jax.Array | float = 0.99,
    reward_scale: jax.Array | float = 1.0,
    brax_backend: str = "spring",
) -> Env:
    """The training stack over ``env`` (an id, or a base environment built once): its
    ``params`` bound, episode statistics, action clipping, ``vmap`` over ``num_envs``, reward
    normalisation (discount ``gamma``), reward scaling and (outermost) observation
    normalisation. ``params``, ``gamma`` and ``reward_scale`` may be traced values."""
    base = make_base_env(env, brax_backend) if isinstance(env, str) else env
    stacked = EpisodeStatistics(base.with_params(params))
    if not stacked.action_spec.discrete:
        stacked = ClipAction(stacked)
    stacked = VecEnv(stacked, num_envs)
    if normalize_rewards:
        stacked = NormalizeReward(stacked, gamma=gamma)
    stacked = ScaleReward(stacked, reward_scale)
    if normalize_observations:
        stacked = NormalizeObservation(stacked)
    return stacked


def make_eval_env(base: Env, num_envs: int, params: Any = None) -> Env:
    """Episode statistics, action clipping and ``vmap`` over ``num_envs``: no reward changes."""
    env = EpisodeStatistics(base.with_params(params))
    if not env.action_spec.discrete:
        env = ClipAction(env)
    return VecEnv(env, num_envs)


__all__ = [
    "ActionSpec",
    "ClipAction",
    "Env",
    "EpisodeStatistics",
    "GymnaxEnv",
    "NormalizeObservation",
    "NormalizeReward",
    "RunningMeanStd",
    "ScaleReward",
    "Step",
    "VecEnv",
    "Wrapper",
    "available_envs",
    "make_base_env",
    "make_eval_env",
    "make_vec_env",
    "normalize_observation",
    "validate_env_name",
]
