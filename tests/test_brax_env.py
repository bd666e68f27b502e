"""Tests for jaxopt_lab.envs.brax_env: shapes, truncation, termination, auto-reset, vmap+scan.

inverted_pendulum on ``spring`` is deterministic given the reset key: a constant push of +-1
tips the pole over (terminates) after 7 steps, while with zero action it stays up for well over
``EPISODE_LENGTH`` steps, so those envs are truncated.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.envs.brax_env import BraxEnv

pytestmark = pytest.mark.filterwarnings("ignore:Brax System:UserWarning")

EPISODE_LENGTH = 10
NUM_STEPS = 25
ACTIONS = jnp.array([[0.0], [0.0], [1.0], [-1.0]])  # envs 0, 1 truncate; envs 2, 3 terminate


def _rollout(env: BraxEnv, key: jax.Array) -> dict[str, Any]:
    """Resets ``len(ACTIONS)`` envs and steps them ``NUM_STEPS`` times under ``lax.scan``."""
    num_envs = ACTIONS.shape[0]
    reset_obs, state = jax.vmap(env.reset)(jax.random.split(key, num_envs))

    def body(state: Any, step_key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        step = jax.vmap(env.step)(jax.random.split(step_key, num_envs), state, ACTIONS)
        out = step._asdict()
        out["steps"] = step.state.steps
        del out["state"], out["info"]
        return step.state, out

    _, out = jax.lax.scan(body, state, jax.random.split(key, NUM_STEPS))
    return {"reset_obs": reset_obs, **out}


@pytest.fixture(scope="module")
def env() -> BraxEnv:
    return BraxEnv("inverted_pendulum", episode_length=EPISODE_LENGTH)


@pytest.fixture(scope="module")
def rollout(env: BraxEnv) -> dict[str, np.ndarray]:
    out = jax.jit(lambda key: _rollout(env, key))(jax.random.PRNGKey(0))
    return {k: np.asarray(v) for k, v in out.items()}


def test_spaces(env: BraxEnv) -> None:
    assert env.backend == "spring"
    assert env.observation_shape == (4,)
    assert env.action_spec.discrete is False
    assert env.action_spec.num_actions == 1
    assert env.action_spec.low == (-1.0,) and env.action_spec.high == (1.0,)
    assert env.max_episode_steps == EPISODE_LENGTH
    ant = BraxEnv("ant")
    assert ant.observation_shape == (27,) and ant.action_spec.num_actions == 8
    assert ant.max_episode_steps == 1000
    assert BraxEnv("ant", episode_length=5, action_repeat=2).max_episode_steps == 3


def test_shapes_and_dtypes(rollout: dict[str, np.ndarray]) -> None:
    assert rollout["reset_obs"].shape == (4, 4)
    for k in ("obs", "final_obs"):
        assert rollout[k].shape == (NUM_STEPS, 4, 4) and rollout[k].dtype == np.float32
    assert rollout["reward"].shape == (NUM_STEPS, 4) and rollout["reward"].dtype == np.float32
    for k in ("terminated", "truncated"):
        assert rollout[k].shape == (NUM_STEPS, 4) and rollout[k].dtype == np.bool_
    assert np.isfinite(rollout["obs"]).all()
    np.testing.assert_array_equal(rollout["reward"], 1.0)


def test_truncation(rollout: dict[str, np.ndarray]) -> None:
    truncated, obs, final_obs = rollout["truncated"], rollout["obs"], rollout["final_obs"]
    expected = np.zeros(NUM_STEPS, bool)
    expected[EPISODE_LENGTH - 1 :: EPISODE_LENGTH] = True
    for i in (0, 1):
        np.testing.assert_array_equal(truncated[:, i], expected)
        assert not rollout["terminated"][:, i].any()
        # the step counter restarts with every episode
        np.testing.assert_array_equal(
            rollout["steps"][:, i], (np.arange(NUM_STEPS) + 1) % EPISODE_LENGTH
        )
        assert (np.abs(final_obs[expected, i] - obs[expected, i]).max(axis=-1) > 1e-4).all()


def test_termination_excludes_truncation(rollout: dict[str, np.ndarray]) -> None:
    terminated, truncated = rollout["terminated"], rollout["truncated"]
    assert not (terminated & truncated).any()
    for i in (2, 3):
        ends = np.flatnonzero(terminated[:, i])
        assert len(ends) >= 2 and ends[0] < EPISODE_LENGTH - 1
        np.testing.assert_array_equal(np.diff(ends), ends[0] + 1)  # same start, same episode
        assert not truncated[:, i].any()
        # brax's termination condition: pole angle beyond 0.2 rad in the final observation
        assert (np.abs(rollout["final_obs"][ends, i, 1]) > 0.2).all()


def test_auto_reset(rollout: dict[str, np.ndarray]) -> None:
    done = rollout["terminated"] | rollout["truncated"]
    obs, final_obs = rollout["obs"], rollout["final_obs"]
    for i in range(4):
        # a finished episode restarts from the env's initial state ...
        np.testing.assert_array_equal(
            obs[done[:, i], i], np.broadcast_to(rollout["reset_obs"][i], obs[done[:, i], i].shape)
        )
        # ... while mid-episode ``final_obs`` is just the observation
        np.testing.assert_array_equal(final_obs[~done[:, i], i], obs[~done[:, i], i])
    assert (rollout["steps"][done] == 0).all()


def test_action_repeat(rollout: dict[str, np.ndarray]) -> None:
    """Rewards sum over repeats and stop at termination; a termination on the last allowed
    step is not a truncation."""
    first_end = int(np.flatnonzero(rollout["terminated"][:, 2])[0])  # 0-based physics step
    end = first_end // 2  # the agent step (of two physics steps) in which the pole falls
    env2 = BraxEnv("inverted_pendulum", episode_length=2 * (end + 1), action_repeat=2)
    out = jax.jit(lambda key: _rollout(env2, key))(jax.random.PRNGKey(0))
    terminated, truncated, reward = (
        np.asarray(out[k]) for k in ("terminated", "truncated", "reward")
    )
    assert np.flatnonzero(terminated[:, 2])[0] == end
    assert not truncated[:, 2].any()
    np.testing.assert_array_equal(reward[:end, 2], 2.0)
    assert reward[end, 2] == (1.0 if first_end % 2 == 0 else 2.0)
    np.testing.assert_array_equal(
        np.flatnonzero(truncated[:, 0]), np.arange(end, NUM_STEPS, end + 1)
    )


@pytest.mark.parametrize(
    ("kwargs", "field", "listed"),
    [
        ({"name": "cartpole"}, "name", "inverted_pendulum"),
        ({"name": "ant", "backend": "physx"}, "backend", "generalized"),
        ({"name": "ant", "episode_length": 0}, "episode_length", ">= 1"),
    ],
)
def test_invalid_config_raises(kwargs: dict[str, Any], field: str, listed: str) -> None:
    with pytest.raises(ValueError, match=field) as info:
        BraxEnv(**kwargs)
    assert listed in str(info.value)
