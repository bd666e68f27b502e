"""Actor and critic as separate MLPs with orthogonal initialisation (Andrychowicz et al. 2021).

Each is its own flax module with its own parameter pytree: the runner state holds them apart,
each with its own optimizer state (a critic-only update never touches the actor's parameters).

The orthogonal initialiser is flax's (Saxe et al. 2014: ``Q`` of the QR factorisation of a
Gaussian matrix, ``R``'s diagonal made positive) computed with matrix products only, classical
Gram-Schmidt applied twice, instead of LAPACK's QR: XLA:CPU deadlocks when several LAPACK calls
of one program run on more than one device at once (seen with 2 host devices; flax's QR makes
six per init), and a population is sharded over devices.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.envs.core import ActionSpec

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


def gram_schmidt_q(matrix: jax.Array) -> jax.Array:
    """``Q`` of the thin QR factorisation of a tall ``[m, n]`` matrix (``R``'s diagonal
    positive): each column minus its projection on the previous ones, twice, normalised."""
    m, n = matrix.shape

    def column(q: jax.Array, k: jax.Array) -> tuple[jax.Array, None]:
        done = jnp.arange(n) < k
        v = matrix[:, k]
        for _ in range(2):  # the second pass restores orthogonality lost to rounding
            v = v - q @ jnp.where(done, q.T @ v, 0.0)
        return q.at[:, k].set(v / jnp.linalg.norm(v)), None

    return jax.lax.scan(column, jnp.zeros((m, n), matrix.dtype), jnp.arange(n))[0]


def orthogonal(scale: float = 1.0) -> nn.initializers.Initializer:
    """flax's ``orthogonal(scale)`` for 2-D kernels, without LAPACK (module docstring)."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        rows, cols = shape
        tall = (max(rows, cols), min(rows, cols))
        q = gram_schmidt_q(jax.random.normal(key, tall, dtype))
        return scale * (q.T if rows < cols else q)

    return init


class MLP(nn.Module):
    """``Dense -> act`` per hidden size, then a linear head initialised with ``head_scale``.

    ``obs_ndim`` trailing axes of the input are flattened first (MinAtar images).
    """

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "tanh"
    head_scale: float = 1.0
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs.reshape((*obs.shape[: obs.ndim - self.obs_ndim], -1))
        act = ACTIVATIONS[self.activation]
        for size in self.hidden_sizes:
            x = act(nn.Dense(size, kernel_init=orthogonal(np.sqrt(2)))(x))
        head_init = orthogonal(self.head_scale)
        return nn.Dense(self.out_size, kernel_init=head_init)(x)


class Actor(nn.Module):
    """The policy head's parameters: logits for a discrete action space, or ``(mean,
    log_std)`` with a state-independent ``log_std`` for a continuous one (head scale 0.01)."""

    action_spec: ActionSpec
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array):
        size = self.action_spec.num_actions
        out = MLP(self.hidden_sizes, size, self.activation, 0.01, self.obs_ndim)(obs)
        if self.action_spec.discrete:
            return out
        return out, self.param("log_std", nn.initializers.zeros, (size,))


class Critic(nn.Module):
    """The state value ``V(s)`` (head scale 1.0)."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    obs_ndim: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return MLP(self.hidden_sizes, 1, self.activation, 1.0, self.obs_ndim)(obs)[..., 0]


def init_network(module: nn.Module, key: jax.Array, observation_shape: tuple[int, ...]):
    """Parameters of ``module`` for observations of ``observation_shape``."""
    return module.init(key, jnp.zeros((1, *observation_shape)))
