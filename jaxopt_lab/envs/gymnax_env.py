"""gymnax environments behind the :mod:`jaxopt_lab.envs.core` interface."""

from __future__ import annotations

from typing import Any

import gymnax
import jax
import jax.numpy as jnp
from gymnax.environments import spaces

from jaxopt_lab.envs.core import ActionSpec, Step


class GymnaxEnv:
    """Any registered gymnax id, with its default parameters baked in as static configuration.

    gymnax >= 1.0 ``step`` returns six values ``obs, state, reward, terminated, truncated,
    info`` and auto-resets; ``info["final_observation"]`` becomes ``Step.final_obs``.
    Observations are cast to float32 (MinAtar's are boolean).
    """

    def __init__(self, env_id: str, **env_params: Any):
        self.env_id = env_id
        self._env, params = gymnax.make(env_id)
        self._params = params.replace(**env_params) if env_params else params
        obs_space = self._env.observation_space(self._params)
        self.observation_shape = tuple(int(d) for d in obs_space.shape)
        self.action_spec = _action_spec(self._env.action_space(self._params))
        self.max_episode_steps = int(self._params.max_steps_in_episode)

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        obs, state = self._env.reset(key, self._params)
        return obs.astype(jnp.float32), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, self._params
        )
        return Step(
            obs=obs.astype(jnp.float32),
            state=state,
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.asarray(terminated, bool),
            truncated=jnp.asarray(truncated, bool) & ~jnp.asarray(terminated, bool),
            final_obs=info["final_observation"].astype(jnp.float32),
            info={},
        )


def _action_spec(space: Any) -> ActionSpec:
    if isinstance(space, spaces.Discrete):
        return ActionSpec(discrete=True, num_actions=int(space.n))
    if isinstance(space, spaces.Box):
        shape = tuple(space.shape) or (1,)
        size = int(jnp.prod(jnp.array(shape)))
        low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), (size,))
        high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), (size,))
        return ActionSpec(
            discrete=False,
            num_actions=size,
            low=tuple(float(x) for x in low),
            high=tuple(float(x) for x in high),
        )
    raise ValueError(f"unsupported gymnax action space {space!r}")
