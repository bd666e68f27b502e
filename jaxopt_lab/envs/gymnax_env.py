"""gymnax environments behind the :mod:`jaxopt_lab.envs.core` interface."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from jaxopt_lab.envs.core import ActionSpec, Step


@functools.cache
def _make(env_id: str) -> tuple[Any, Any]:
    return gymnax.make(env_id)


def _cartpole_derived(params: Any) -> Any:
    return params.replace(
        total_mass=params.masscart + params.masspole,
        polemass_length=params.masspole * params.length,
    )


# gymnax stores some quantities that are functions of others as parameters of their own. They
# are recomputed from their sources, so that setting (or sweeping) ``length`` or ``masspole``
# of CartPole changes the physics as it says; they cannot be set themselves.
DERIVED_PARAMS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "CartPole-v1": (("total_mass", "polemass_length"), _cartpole_derived),
}
STATIC_PARAMS = ("max_steps_in_episode",)
"""The time limit defines the task (and sets the evaluation horizon): not a parameter here."""


def complete_params(env_id: str, params: Any) -> Any:
    """``params`` with the default time limit and derived quantities recomputed."""
    params = params.replace(max_steps_in_episode=default_params(env_id).max_steps_in_episode)
    derived = DERIVED_PARAMS.get(env_id)
    return derived[1](params) if derived else params


def default_params(env_id: str) -> Any:
    """gymnax's default ``EnvParams`` of ``env_id``."""
    return _make(env_id)[1]


def settable_params(env_id: str) -> tuple[str, ...]:
    """The names of ``env_id``'s parameters that can be set or swept."""
    fixed = set(STATIC_PARAMS) | set(DERIVED_PARAMS.get(env_id, ((), None))[0])
    return tuple(name for name in vars(default_params(env_id)) if name not in fixed)


class GymnaxEnv:
    """Any registered gymnax id, with its parameters bound (gymnax's defaults unless given).

    The parameters may be traced values: the trainer binds each run's own (``with_params``)
    inside the compiled program, so ``vmap`` trains over environment variants. The time limit
    stays the default's; derived CartPole quantities follow their sources.
    gymnax >= 1.0 ``step`` returns six values ``obs, state, reward, terminated, truncated,
    info`` and auto-resets; ``info["final_observation"]`` becomes ``Step.final_obs``.
    Observations are cast to float32 (MinAtar's are boolean).
    """

    def __init__(self, env_id: str, params: Any = None):
        self.env_id = env_id
        self._env, defaults = _make(env_id)
        self.max_episode_steps = int(defaults.max_steps_in_episode)
        self.params = complete_params(env_id, defaults if params is None else params)
        obs_space = self._env.observation_space(defaults)
        self.observation_shape = tuple(int(d) for d in obs_space.shape)
        self.action_spec = _action_spec(self._env.action_space(defaults))

    def with_params(self, params: Any) -> GymnaxEnv:
        """The same environment with other (possibly traced) parameters; ``None``: these."""
        if params is None:
            return self
        bound = copy.copy(self)
        bound.params = complete_params(self.env_id, params)
        return bound

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        obs, state = self._env.reset(key, self.params)
        return obs.astype(jnp.float32), state

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, self.params
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
        size = int(np.prod(shape))
        low = np.broadcast_to(np.asarray(space.low, np.float32), (size,))
        high = np.broadcast_to(np.asarray(space.high, np.float32), (size,))
        return ActionSpec(
            discrete=False,
            num_actions=size,
            low=tuple(float(x) for x in low),
            high=tuple(float(x) for x in high),
        )
    raise ValueError(f"unsupported gymnax action space {space!r}")
