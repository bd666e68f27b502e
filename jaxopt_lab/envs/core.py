"""The functional environment interface shared by gymnax and brax.

An environment is a Python object holding only static configuration; its ``reset`` and ``step``
are pure functions of explicit state, in the style of gymnax:

    obs, state = env.reset(key)
    step = env.step(key, state, action)   # -> Step(obs, state, reward, terminated, truncated,
                                          #          final_obs, info)

``step`` auto-resets: when ``terminated | truncated`` the returned ``obs``/``state`` belong to the
next episode and ``final_obs`` is the last observation of the finished one (gymnax >= 1.0's
``info["final_observation"]``), so
the TD target can bootstrap from ``V(final_obs)`` on truncation only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import jax


@dataclass(frozen=True)
class ActionSpec:
    """Static description of an action space.

    ``discrete`` spaces have ``num_actions`` choices; continuous spaces are boxes of shape
    ``(num_actions,)`` bounded by ``low``/``high`` (tuples, so the spec stays hashable).
    """

    discrete: bool
    num_actions: int
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()


class Step(NamedTuple):
    """What ``Env.step`` returns (gymnax 1.x semantics, ``final_observation`` made explicit)."""

    obs: jax.Array
    state: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    final_obs: jax.Array
    info: dict[str, jax.Array]


class Env(Protocol):
    """A pure, auto-resetting environment."""

    observation_shape: tuple[int, ...]
    action_spec: ActionSpec
    max_episode_steps: int

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]: ...

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step: ...


class Wrapper:
    """Base class for wrappers: forwards the static attributes of the wrapped environment."""

    def __init__(self, env: Env):
        self.env = env

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return self.env.observation_shape

    @property
    def action_spec(self) -> ActionSpec:
        return self.env.action_spec

    @property
    def max_episode_steps(self) -> int:
        return self.env.max_episode_steps

    @property
    def num_envs(self) -> int:
        return self.env.num_envs

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        return self.env.reset(key)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        return self.env.step(key, state, action)
