"""Policy objectives as pure functions of the probability ratio and the advantages.

Mirror-learning view (Kuba et al. 2022): a policy update maximises ``E[r * A - drift(r, A)]``
with ``drift >= 0`` and ``drift = d drift / dr = 0`` at ``r = 1``. The trainer minimises
:func:`drift_policy_loss`, the negated objective; each drift is a function ``drift(r, A)``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Drift = Callable[..., jax.Array]


def ppo_drift(ratio: jax.Array, advantages: jax.Array, clip_eps: jax.Array | float) -> jax.Array:
    """PPO's clipping objective as a drift (Schulman et al. 2017; Kuba et al. 2022).

    ``drift(r, A) = relu((r - clip(r, 1 - eps, 1 + eps)) * A)``, so that
    ``r * A - drift = min(r * A, clip(r, 1 - eps, 1 + eps) * A)``.
    """
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return jax.nn.relu((ratio - clipped) * advantages)


def zero_drift(ratio: jax.Array, advantages: jax.Array) -> jax.Array:
    """No drift: ``r * A`` alone, the vanilla policy-gradient (A2C) surrogate."""
    return jnp.zeros_like(ratio * advantages)


def discovered_drift(
    ratio: jax.Array,
    advantages: jax.Array,
    alpha: jax.Array | float = 2.0,
    beta: jax.Array | float = 0.6,
) -> jax.Array:
    """The closed-form drift of "Discovered Policy Optimisation" (Lu et al. 2022), "DPO" there.

    ``A >= 0: relu((r - 1) A - alpha tanh((r - 1) A / alpha))``;
    ``A <  0: relu(log(r) A - beta tanh(log(r) A / beta))``; ``alpha = 2``, ``beta = 0.6``.
    Not Direct Preference Optimisation (see :mod:`jaxopt_lab.objectives.preference`).
    """
    positive = (ratio - 1.0) * advantages
    negative = jnp.log(ratio) * advantages
    return jnp.where(
        advantages >= 0,
        jax.nn.relu(positive - alpha * jnp.tanh(positive / alpha)),
        jax.nn.relu(negative - beta * jnp.tanh(negative / beta)),
    )


def drift_policy_loss(
    drift: Drift, ratio: jax.Array, advantages: jax.Array, **drift_hparams: jax.Array
) -> jax.Array:
    """``-mean(r * A - drift(r, A))``: the loss a trainer minimises for a drift objective."""
    return -jnp.mean(ratio * advantages - drift(ratio, advantages, **drift_hparams))


def ppo_clip_loss(
    ratio: jax.Array, advantages: jax.Array, clip_eps: jax.Array | float = 0.2
) -> jax.Array:
    """PPO's clipped surrogate loss ``-mean(min(r * A, clip(r, 1 - eps, 1 + eps) * A))``."""
    return drift_policy_loss(ppo_drift, ratio, advantages, clip_eps=clip_eps)


def mdpo_loss(
    ratio: jax.Array, advantages: jax.Array, kl: jax.Array, step_size: jax.Array | float
) -> jax.Array:
    """On-policy MDPO (Tomar et al. 2022), negated for minimisation:

    ``-(mean(r * A) - mean_s KL(pi_new(.|s) || pi_old(.|s)) / t_k)``. The KL is the reverse of
    TRPO's: of the NEW policy from the OLD one; ``t_k = 1 - k / K`` anneals to 0.
    """
    return -(jnp.mean(ratio * advantages) - jnp.mean(kl) / step_size)
