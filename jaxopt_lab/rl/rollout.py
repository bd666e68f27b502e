"""Collecting experience: ``num_steps`` steps of every environment in one ``lax.scan``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.envs import Env
from jaxopt_lab.rl.algorithm import Context


class Transition(NamedTuple):
    """One step of every environment, time-major in a rollout (``[num_steps, num_envs]``)."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    terminated: jax.Array
    done: jax.Array
    final_obs: jax.Array
    episode_return: jax.Array


def collect(
    ctx: Context,
    env: Env,
    actor: Any,
    critic: Any,
    carry: tuple[Any, jax.Array, jax.Array],
    num_steps: int,
) -> tuple[tuple[Any, jax.Array, jax.Array], Transition]:
    """``num_steps`` steps from ``carry = (env_state, obs, key)``, sampling the policy."""

    def env_step(carry, _):
        env_state, obs, key = carry
        key, action_key, step_key = jax.random.split(key, 3)
        dist = ctx.policy(actor, obs)
        action = dist.sample(action_key)
        step = env.step(step_key, env_state, action)
        transition = Transition(
            obs,
            action,
            dist.log_prob(action),
            ctx.value(critic, obs),
            step.reward,
            step.terminated,
            step.terminated | step.truncated,
            step.final_obs,
            step.info["episode_return"],
        )
        return (step.state, step.obs, key), transition

    return jax.lax.scan(env_step, carry, None, num_steps)


def episode_metrics(traj: Transition) -> dict[str, jax.Array]:
    """Episodes finished in the rollout and their mean undiscounted return (NaN if none)."""
    episodes = traj.done.sum()
    finished_return = jnp.where(traj.done, traj.episode_return, 0.0).sum()
    mean_return = jnp.where(episodes > 0, finished_return / jnp.maximum(episodes, 1), jnp.nan)
    return {"episode_return": mean_return, "episodes": episodes}
