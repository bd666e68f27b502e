"""Shared fixtures: tiny configs and compiled programs reused across tests."""

import os

# The scripts cache compiled programs on disk (jaxopt_lab.compile_cache). The test session
# keeps that off, for itself and the scripts it starts (they inherit the environment): every
# program is compiled and nothing is written to the home folder. test_compile_cache turns it
# on in folders of its own.
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"

import matplotlib
import pytest

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def tiny_config():
    from jaxopt_lab.rl import TrainConfig

    return TrainConfig(
        env="CartPole-v1",
        num_envs=4,
        num_steps=16,
        total_timesteps=64 * 16,
        update_epochs=2,
        num_minibatches=2,
        hidden_sizes=(16, 16),
        eval_episodes=4,
    )
