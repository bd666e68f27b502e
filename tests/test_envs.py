"""The gymnax adapter (six-value step, final observation) and the wrappers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.envs import (
    ClipAction,
    EpisodeStatistics,
    GymnaxEnv,
    NormalizeObservation,
    NormalizeReward,
    RunningMeanStd,
    VecEnv,
    available_envs,
    make_vec_env,
    validate_env_name,
)


def rollout(env, key, actions):
    _, state = env.reset(key)

    def body(state, inputs):
        key, action = inputs
        step = env.step(key, state, action)
        return step.state, step._replace(state=None)

    keys = jax.random.split(jax.random.key(1), len(actions))
    return jax.lax.scan(body, state, (keys, actions))[1]


def test_gymnax_truncation_keeps_final_observation():
    env = EpisodeStatistics(GymnaxEnv("Pendulum-v1"))  # never terminates, truncates at 200
    steps = jax.jit(rollout, static_argnums=0)(env, jax.random.key(0), jnp.zeros((205, 1)))
    truncated = np.flatnonzero(steps.truncated)
    np.testing.assert_array_equal(truncated, [199])
    assert not steps.terminated.any()
    assert steps.info["episode_length"][199] == 200
    # auto-reset: obs is the new episode's, final_obs the old one's last
    assert not np.allclose(steps.obs[199], steps.final_obs[199])
    np.testing.assert_array_equal(steps.obs[198], steps.final_obs[198])
    np.testing.assert_allclose(
        steps.info["episode_return"][199], steps.reward[:200].sum(), rtol=1e-5
    )


def test_gymnax_termination_is_not_truncation():
    env = EpisodeStatistics(GymnaxEnv("CartPole-v1"))
    steps = jax.jit(rollout, static_argnums=0)(env, jax.random.key(0), jnp.ones(60, jnp.int32))
    assert steps.terminated.any()
    assert not (steps.terminated & steps.truncated).any()
    first = int(np.flatnonzero(steps.terminated)[0])
    assert steps.info["episode_return"][first] == first + 1
    assert steps.info["episode_done"][first]


def test_vec_env_and_clip_action():
    env = VecEnv(ClipAction(GymnaxEnv("Pendulum-v1")), 3)
    obs, state = env.reset(jax.random.key(0))
    assert obs.shape == (3, 3)
    big = env.step(jax.random.key(1), state, jnp.full((3, 1), 100.0))
    edge = env.step(jax.random.key(1), state, jnp.full((3, 1), 2.0))
    np.testing.assert_array_equal(big.reward, edge.reward)
    with pytest.raises(ValueError, match="continuous"):
        ClipAction(GymnaxEnv("CartPole-v1"))


def test_running_mean_std_matches_numpy():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4)).astype(np.float32)
    stats = RunningMeanStd.zeros((4,))
    for chunk in np.split(data, 5):
        stats = stats.update(jnp.asarray(chunk))
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-3)


def test_normalize_observation_and_reward_carry_state():
    env = NormalizeObservation(NormalizeReward(VecEnv(GymnaxEnv("Pendulum-v1"), 8), gamma=0.9))
    steps = jax.jit(rollout, static_argnums=0)(env, jax.random.key(0), jnp.zeros((100, 8, 1)))
    obs = np.asarray(steps.obs[50:])
    assert abs(obs.mean()) < 0.5 and 0.3 < obs.std() < 2.0
    assert np.all(np.abs(obs) <= 10.0)
    frozen = NormalizeObservation(VecEnv(GymnaxEnv("Pendulum-v1"), 2), update_stats=False)
    _, state = frozen.reset(jax.random.key(0))
    np.testing.assert_array_equal(state.obs_stats.mean, 0.0)


def test_make_vec_env_stack_and_names():
    env = make_vec_env("Pendulum-v1", 4, normalize_observations=True)
    assert isinstance(env, NormalizeObservation) and env.num_envs == 4
    assert "CartPole-v1" in available_envs() and "brax/ant" in available_envs()
    with pytest.raises(ValueError, match=r"env: unknown environment 'CartPole-v9'.*CartPole-v1"):
        validate_env_name("CartPole-v9")
    with pytest.raises(ValueError, match="brax/inverted_pendulum"):
        validate_env_name("brax/nope")
