"""Generalised advantage estimation with correct truncation bootstrapping (Schulman et al.
2016; Pardo et al. 2018, "Time Limits in Reinforcement Learning")."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    done: jax.Array,
    gamma: jax.Array | float,
    gae_lambda: jax.Array | float,
) -> tuple[jax.Array, jax.Array]:
    """GAE(gamma, lambda) over a time-major rollout ``[T, ...]`` (Schulman et al. 2016).

    ``delta_t = r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t)``, with ``s'_t`` the
    successor state, i.e. the final observation of the episode when step ``t`` ended it; and
    ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}``: the recursion stops at every
    episode end, the bootstrap only at termination. Returns ``(advantages, A + V)``.
    """
    not_terminated = 1.0 - terminated.astype(rewards.dtype)
    not_done = 1.0 - done.astype(rewards.dtype)
    deltas = rewards + gamma * not_terminated * next_values - values
    decay = gamma * gae_lambda * not_done

    def backward(carry: jax.Array, inputs: tuple[jax.Array, jax.Array]):
        delta, discount = inputs
        advantage = delta + discount * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, decay), reverse=True)
    return advantages, advantages + values
