"""Separate actor and critic MLPs with orthogonal initialisation (Andrychowicz et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.envs.core import ActionSpec

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}


class MLP(nn.Module):
    """``Dense -> act`` per hidden size, then a linear head initialised with ``head_scale``."""

    hidden_sizes: Sequence[int]
    out_size: int
    activation: str = "tanh"
    head_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for size in self.hidden_sizes:
            x = nn.Dense(size, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x)
            x = act(x)
        head_init = nn.initializers.orthogonal(self.head_scale)
        return nn.Dense(self.out_size, kernel_init=head_init)(x)


class ActorCritic(nn.Module):
    """Actor and critic with no shared layers.

    Returns ``(policy_params, value)``: logits for a discrete action space, or
    ``(mean, log_std)`` with a state-independent ``log_std`` for a continuous one.
    ``obs_ndim`` trailing axes of the observation are flattened (MinAtar images).
    """

    action_spec: ActionSpec
    obs_ndim: int = 1
    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"

    def setup(self):
        num_actions = self.action_spec.num_actions
        self.actor = MLP(self.hidden_sizes, num_actions, self.activation, head_scale=0.01)
        self.critic = MLP(self.hidden_sizes, 1, self.activation, head_scale=1.0)
        if not self.action_spec.discrete:
            self.log_std = self.param("log_std", nn.initializers.zeros, (num_actions,))

    def _flatten(self, obs: jax.Array) -> jax.Array:
        return obs.reshape((*obs.shape[: obs.ndim - self.obs_ndim], -1))

    def __call__(self, obs: jax.Array):
        x = self._flatten(obs)
        out = self.actor(x)
        policy_params = out if self.action_spec.discrete else (out, self.log_std)
        return policy_params, self.critic(x)[..., 0]

    def value(self, obs: jax.Array) -> jax.Array:
        return self.critic(self._flatten(obs))[..., 0]


def init_params(network: ActorCritic, key: jax.Array, observation_shape: tuple[int, ...]):
    return network.init(key, jnp.zeros((1, *observation_shape)))
