"""brax environments behind the :mod:`jaxopt_lab.envs.core` interface."""

from __future__ import annotations

import contextlib
import io
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.envs.core import ActionSpec, Step
from jaxopt_lab.fields import check_choice


def _import_brax_envs() -> Any:
    """``brax.envs``, without the two lines MuJoCo's MJX prints on stdout when the optional
    ``warp`` package is absent ("Failed to import warp", "Failed to import mujoco_warp");
    anything else printed during the import still shows."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        from brax import envs
    for line in printed.getvalue().splitlines():
        if not line.startswith(("Failed to import warp:", "Failed to import mujoco_warp:")):
            print(line)
    return envs


brax_envs = _import_brax_envs()

BACKENDS = ("generalized", "positional", "spring", "mjx")
DEFAULT_BACKEND = "spring"


class BraxState(NamedTuple):
    """``env_state``: the running brax state; ``first_state``: the state auto-reset returns to;
    ``steps``: agent steps taken in the current episode."""

    env_state: Any
    first_state: Any
    steps: jax.Array


class BraxEnv:
    """A registered brax environment (``brax.envs.get_environment(name, backend=backend)``).

    Actions are boxes in ``[-1, 1]`` (brax rescales them to the actuator ranges). Each agent step
    repeats the action ``action_repeat`` times, summing rewards and stopping at termination;
    episodes are truncated after ``max_episode_steps = ceil(episode_length / action_repeat)``
    agent steps (``episode_length`` counts physics-env steps, as in brax's ``EpisodeWrapper``).
    brax's ``done`` means termination; ``truncated`` is only set when not terminated.

    Auto-reset follows brax's ``AutoResetWrapper``: the state returned by ``reset`` is kept and
    ``where``-selected when an episode ends, so every episode of one environment starts from the
    same initial state and ``step`` ignores its key. A fresh ``reset(key)`` under ``where`` on
    every step cost 10-20% of the throughput (inverted_pendulum, 16 envs on CPU) and compiled
    slower. ``spring`` is the default backend: the fastest on CPU (inverted_pendulum, 16 envs:
    ~185k steps/s against ~50k ``generalized``, ~58k ``positional``, ~66k ``mjx``) and, on ant,
    the one that stays stable under zero actions. brax sets ``dt`` per backend (inverted_pendulum:
    0.02 s on ``spring``/``positional``, 0.04 s on ``generalized``/``mjx``), so returns are not
    comparable across backends.
    """

    def __init__(
        self,
        name: str,
        backend: str = DEFAULT_BACKEND,
        episode_length: int = 1000,
        action_repeat: int = 1,
    ):
        check_choice("name", name, sorted(brax_envs._envs))
        check_choice("backend", backend, BACKENDS)
        for field, value in (("episode_length", episode_length), ("action_repeat", action_repeat)):
            if value < 1:
                raise ValueError(f"{field}: must be >= 1, got {value!r}")
        self.name = name
        self.backend = backend
        self.action_repeat = action_repeat
        self._env = brax_envs.get_environment(name, backend=backend)
        obs = jax.eval_shape(self._env.reset, jax.random.PRNGKey(0)).obs
        if not isinstance(obs, jax.ShapeDtypeStruct):
            raise ValueError(f"name: brax env {name!r} has non-array observations")
        self.observation_shape = tuple(obs.shape)
        num_actions = int(self._env.action_size)
        self.action_spec = ActionSpec(
            discrete=False,
            num_actions=num_actions,
            low=(-1.0,) * num_actions,
            high=(1.0,) * num_actions,
        )
        self.max_episode_steps = -(-episode_length // action_repeat)

    def with_params(self, params: Any) -> BraxEnv:
        """brax environments take no parameters here (their physics are a fixed System)."""
        if params is not None:
            raise ValueError(f"env_params: brax/{self.name} has no settable parameters")
        return self

    def reset(self, key: jax.Array) -> tuple[jax.Array, BraxState]:
        state = self._env.reset(key)
        return state.obs.astype(jnp.float32), BraxState(state, state, jnp.int32(0))

    def step(self, key: jax.Array, state: BraxState, action: jax.Array) -> Step:
        del key  # brax dynamics are deterministic and auto-reset reuses ``first_state``
        env_state, reward = self._repeat(state.env_state, action)
        terminated = env_state.done > 0
        steps = state.steps + 1
        truncated = (steps >= self.max_episode_steps) & ~terminated
        done = terminated | truncated
        next_state = jax.tree.map(
            lambda first, last: jnp.where(done, first, last), state.first_state, env_state
        )
        return Step(
            obs=next_state.obs.astype(jnp.float32),
            state=BraxState(next_state, state.first_state, jnp.where(done, 0, steps)),
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            final_obs=env_state.obs.astype(jnp.float32),
            info={},
        )

    def _repeat(self, env_state: Any, action: jax.Array) -> tuple[Any, jax.Array]:
        """``action_repeat`` brax steps; the state freezes and rewards stop once terminated."""
        if self.action_repeat == 1:
            env_state = self._env.step(env_state, action)
            return env_state, jnp.asarray(env_state.reward, jnp.float32)

        def body(carry: tuple[Any, jax.Array], _: None) -> tuple[tuple[Any, jax.Array], None]:
            prev, total = carry
            stopped = prev.done > 0
            new = jax.tree.map(
                lambda old, cur: jnp.where(stopped, old, cur), prev, self._env.step(prev, action)
            )
            return (new, total + jnp.where(stopped, 0.0, new.reward)), None

        init = (env_state, jnp.float32(0.0))
        (env_state, reward), _ = jax.lax.scan(body, init, None, self.action_repeat)
        return env_state, reward
