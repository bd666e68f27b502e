"""Value-function losses."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def value_loss(
    values: jax.Array,
    targets: jax.Array,
    old_values: jax.Array | None = None,
    clip_eps: jax.Array | float | None = None,
) -> jax.Array:
    """``0.5 * mean((V - R)^2)``, or PPO's clipped form when ``old_values`` is given:

    ``0.5 * mean(max((V - R)^2, (V_clip - R)^2))`` with
    ``V_clip = V_old + clip(V - V_old, -eps, eps)`` (Schulman et al. 2017, baselines).
    """
    squared = (values - targets) ** 2
    if old_values is None:
        return 0.5 * jnp.mean(squared)
    clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(squared, (clipped - targets) ** 2))
