"""Evaluating a policy: ``eval_episodes`` episodes in parallel, one per environment."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxopt_lab.envs import Env, normalize_observation
from jaxopt_lab.envs.wrappers import RunningMeanStd
from jaxopt_lab.rl.algorithm import Context


def evaluate_policy(
    ctx: Context, env: Env, key: jax.Array, actor: Any, obs_stats: RunningMeanStd | None
) -> jax.Array:
    """Mean undiscounted return of the first episode of each of ``env``'s environments
    (``obs_stats``: the training's observation normalisation, or ``None``); the policy's mode
    if ``eval_deterministic``, else samples."""
    num_envs = env.num_envs

    def step(carry, _):
        env_state, obs, key, finished, returns = carry
        key, action_key, step_key = jax.random.split(key, 3)
        policy_obs = obs if obs_stats is None else normalize_observation(obs, obs_stats)
        dist = ctx.policy(actor, policy_obs)
        action = dist.mode() if ctx.config.eval_deterministic else dist.sample(action_key)
        step = env.step(step_key, env_state, action)
        first_end = step.info["episode_done"] & ~finished
        returns = jnp.where(first_end, step.info["episode_return"], returns)
        return (step.state, step.obs, key, finished | first_end, returns), None

    key, reset_key = jax.random.split(key)
    obs, env_state = env.reset(reset_key)
    zeros = jnp.zeros(num_envs)
    carry = (env_state, obs, key, zeros.astype(bool), zeros)
    (_, _, _, _, returns), _ = jax.lax.scan(step, carry, None, env.max_episode_steps)
    return returns.mean()
