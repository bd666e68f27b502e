"""The two policy heads' distributions as pure functions of their parameters.

Categorical: parameters are logits ``[..., n]``. Diagonal Gaussian: parameters are
``(mean, log_std)`` with ``mean`` ``[..., d]`` and a state-independent ``log_std`` ``[d]``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Categorical(NamedTuple):
    logits: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.categorical(key, self.logits)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1)

    def log_prob(self, action: jax.Array) -> jax.Array:
        log_p = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(log_p, action[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        log_p = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)

    def kl(self, other: Categorical) -> jax.Array:
        """``KL(self || other) = sum_a p(a) (log p(a) - log q(a))``."""
        log_p = jax.nn.log_softmax(self.logits)
        log_q = jax.nn.log_softmax(other.logits)
        return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=-1)


class DiagGaussian(NamedTuple):
    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        noise = jax.random.normal(key, self.mean.shape, self.mean.dtype)
        return self.mean + jnp.exp(self.log_std) * noise

    def mode(self) -> jax.Array:
        return self.mean

    def log_prob(self, action: jax.Array) -> jax.Array:
        z = (action - self.mean) * jnp.exp(-self.log_std)
        per_dim = -0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi)
        return jnp.sum(per_dim, axis=-1)

    def entropy(self) -> jax.Array:
        per_dim = self.log_std + 0.5 * (1.0 + math.log(2 * math.pi))
        return jnp.sum(jnp.broadcast_to(per_dim, self.mean.shape), axis=-1)

    def kl(self, other: DiagGaussian) -> jax.Array:
        """``KL(self || other)`` in closed form, summed over dimensions."""
        var_ratio = jnp.exp(2 * (self.log_std - other.log_std))
        mean_term = ((self.mean - other.mean) * jnp.exp(-other.log_std)) ** 2
        per_dim = 0.5 * (var_ratio + mean_term - 1.0) - (self.log_std - other.log_std)
        return jnp.sum(jnp.broadcast_to(per_dim, self.mean.shape), axis=-1)


Distribution = Categorical | DiagGaussian


def make_distribution(policy_params: Any) -> Distribution:
    """Logits -> :class:`Categorical`; a ``(mean, log_std)`` pair -> :class:`DiagGaussian`."""
    if isinstance(policy_params, tuple):
        return DiagGaussian(*policy_params)
    return Categorical(policy_params)
