"""Wrappers users expect, each a pure transformation of the environment state.

Per-environment wrappers (:class:`EpisodeStatistics`, :class:`ClipAction`) wrap a single
environment; :class:`VecEnv` then vmaps it over ``num_envs``; batch wrappers
(:class:`NormalizeObservation`, :class:`NormalizeReward`) sit on top of the vectorised env so
that their running statistics are shared across the batch and carried in the pure state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxopt_lab.envs.core import Env, Step, Wrapper


class EpisodeStatisticsState(NamedTuple):
    env_state: Any
    episode_return: jax.Array
    episode_length: jax.Array


class EpisodeStatistics(Wrapper):
    """Tracks the undiscounted return and length of each episode (before any reward scaling).

    ``info["episode_done"]`` marks steps that end an episode, where ``info["episode_return"]``
    and ``info["episode_length"]`` hold the finished episode's totals.
    """

    def reset(self, key: jax.Array) -> tuple[jax.Array, EpisodeStatisticsState]:
        obs, state = self.env.reset(key)
        return obs, EpisodeStatisticsState(state, jnp.float32(0.0), jnp.int32(0))

    def step(self, key: jax.Array, state: EpisodeStatisticsState, action: jax.Array) -> Step:
        step = self.env.step(key, state.env_state, action)
        episode_return = state.episode_return + step.reward
        episode_length = state.episode_length + 1
        done = step.terminated | step.truncated
        info = {
            **step.info,
            "episode_done": done,
            "episode_return": episode_return,
            "episode_length": episode_length,
        }
        new_state = EpisodeStatisticsState(
            step.state,
            jnp.where(done, 0.0, episode_return),
            jnp.where(done, 0, episode_length),
        )
        return step._replace(state=new_state, info=info)


class ClipAction(Wrapper):
    """Clips continuous actions to the box ``[low, high]`` before they reach the environment.

    The agent keeps (and scores the log-probability of) the unclipped action.
    """

    def __init__(self, env: Env):
        super().__init__(env)
        if env.action_spec.discrete:
            raise ValueError("ClipAction needs a continuous action space")
        self._low = jnp.asarray(env.action_spec.low, jnp.float32)
        self._high = jnp.asarray(env.action_spec.high, jnp.float32)

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        return self.env.step(key, state, jnp.clip(action, self._low, self._high))


class VecEnv(Wrapper):
    """``num_envs`` independent copies of an environment, stepped together with ``vmap``."""

    def __init__(self, env: Env, num_envs: int):
        super().__init__(env)
        self._num_envs = num_envs

    @property
    def num_envs(self) -> int:
        return self._num_envs

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        return jax.vmap(self.env.reset)(jax.random.split(key, self._num_envs))

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        keys = jax.random.split(key, self._num_envs)
        return jax.vmap(self.env.step)(keys, state, action)


class RunningMeanStd(NamedTuple):
    """Running mean and variance (parallel-algorithm merge of Chan et al.)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> RunningMeanStd:
        return cls(jnp.zeros(shape), jnp.ones(shape), jnp.float32(1e-4))

    def update(self, batch: jax.Array) -> RunningMeanStd:
        batch_mean = batch.mean(axis=0)
        batch_var = batch.var(axis=0)
        batch_count = batch.shape[0]
        delta = batch_mean - self.mean
        count = self.count + batch_count
        mean = self.mean + delta * batch_count / count
        m2 = self.var * self.count + batch_var * batch_count
        m2 = m2 + delta**2 * self.count * batch_count / count
        return RunningMeanStd(mean, m2 / count, count)


def normalize_observation(obs: jax.Array, stats: RunningMeanStd, clip: float = 10.0) -> jax.Array:
    """``clip((obs - mean) / sqrt(var + 1e-8), -clip, clip)``."""
    return jnp.clip((obs - stats.mean) / jnp.sqrt(stats.var + 1e-8), -clip, clip)


class NormalizeObservationState(NamedTuple):
    env_state: Any
    obs_stats: RunningMeanStd


class NormalizeObservation(Wrapper):
    """``obs <- clip((obs - mean) / sqrt(var + 1e-8), -clip, clip)`` with running statistics.

    Statistics are updated with every batch of observations while ``update_stats`` is true;
    evaluation uses a copy built with ``update_stats=False`` and the trained statistics. The
    final observation of an episode is normalised with the same statistics.
    """

    def __init__(self, env: Env, clip: float = 10.0, update_stats: bool = True):
        super().__init__(env)
        self.clip = clip
        self.update_stats = update_stats

    def normalize(self, obs: jax.Array, stats: RunningMeanStd) -> jax.Array:
        return normalize_observation(obs, stats, self.clip)

    def _update(self, stats: RunningMeanStd, obs: jax.Array) -> RunningMeanStd:
        return stats.update(obs) if self.update_stats else stats

    def reset(self, key: jax.Array) -> tuple[jax.Array, NormalizeObservationState]:
        obs, state = self.env.reset(key)
        stats = self._update(RunningMeanStd.zeros(self.observation_shape), obs)
        return self.normalize(obs, stats), NormalizeObservationState(state, stats)

    def step(self, key: jax.Array, state: NormalizeObservationState, action: jax.Array) -> Step:
        step = self.env.step(key, state.env_state, action)
        stats = self._update(state.obs_stats, step.obs)
        return step._replace(
            obs=self.normalize(step.obs, stats),
            final_obs=self.normalize(step.final_obs, stats),
            state=NormalizeObservationState(step.state, stats),
        )


class NormalizeRewardState(NamedTuple):
    env_state: Any
    discounted_return: jax.Array
    return_stats: RunningMeanStd


class NormalizeReward(Wrapper):
    """Divides rewards by the running std of the discounted return (gymnasium's
    NormalizeReward): ``G <- gamma * G * (1 - done) + r``;  ``r <- r / sqrt(var(G) + 1e-8)``.

    ``gamma`` may be a traced value (the trainer builds this wrapper inside the compiled
    program with each run's own discount, the one its advantages use).
    """

    def __init__(self, env: Env, gamma: jax.Array | float = 0.99):
        super().__init__(env)
        self.gamma = gamma

    def reset(self, key: jax.Array) -> tuple[jax.Array, NormalizeRewardState]:
        obs, state = self.env.reset(key)
        zeros = jnp.zeros(obs.shape[:1])
        return obs, NormalizeRewardState(state, zeros, RunningMeanStd.zeros(()))

    def step(self, key: jax.Array, state: NormalizeRewardState, action: jax.Array) -> Step:
        step = self.env.step(key, state.env_state, action)
        done = step.terminated | step.truncated
        discounted_return = state.discounted_return * self.gamma + step.reward
        stats = state.return_stats.update(discounted_return)
        reward = step.reward / jnp.sqrt(stats.var + 1e-8)
        new_state = NormalizeRewardState(step.state, jnp.where(done, 0.0, discounted_return), stats)
        return step._replace(reward=reward, state=new_state)


class ScaleReward(Wrapper):
    """Multiplies rewards by ``scale`` (brax-style reward scaling; may be a traced value)."""

    def __init__(self, env: Env, scale: jax.Array | float):
        super().__init__(env)
        self.scale = scale

    def step(self, key: jax.Array, state: Any, action: jax.Array) -> Step:
        step = self.env.step(key, state, action)
        return step._replace(reward=step.reward * self.scale)
