"""gymnax and brax environments behind one small functional interface."""

from __future__ import annotations

import gymnax

from jaxopt_lab.envs.core import ActionSpec, Env, Step, Wrapper
from jaxopt_lab.envs.gymnax_env import GymnaxEnv
from jaxopt_lab.envs.wrappers import (
    ClipAction,
    EpisodeStatistics,
    NormalizeObservation,
    NormalizeReward,
    RunningMeanStd,
    VecEnv,
    normalize_observation,
)

BRAX_PREFIX = "brax/"


def brax_env_names() -> list[str]:
    """``brax/<name>`` for every environment brax registers."""
    from brax import envs as brax_envs

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
    name: str,
    num_envs: int,
    *,
    normalize_observations: bool = False,
    normalize_rewards: bool = False,
    reward_scale: float = 1.0,
    gamma: float = 0.99,
    brax_backend: str = "spring",
) -> Env:
    """The training stack: episode statistics, action clipping, ``vmap`` over ``num_envs``,
    then reward scaling/normalisation and (outermost) observation normalisation."""
    env = EpisodeStatistics(make_base_env(name, brax_backend))
    if not env.action_spec.discrete:
        env = ClipAction(env)
    env = VecEnv(env, num_envs)
    if normalize_rewards or reward_scale != 1.0:
        env = NormalizeReward(env, gamma=gamma, scale=reward_scale, normalize=normalize_rewards)
    if normalize_observations:
        env = NormalizeObservation(env)
    return env


__all__ = [
    "ActionSpec",
    "ClipAction",
    "Env",
    "EpisodeStatistics",
    "GymnaxEnv",
    "NormalizeObservation",
    "NormalizeReward",
    "RunningMeanStd",
    "Step",
    "VecEnv",
    "Wrapper",
    "available_envs",
    "make_base_env",
    "make_vec_env",
    "normalize_observation",
    "validate_env_name",
]
