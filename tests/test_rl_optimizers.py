"""The trainer's --optimizer and --sam-rho: every optimizer trains, SAM is wired to the loss."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

from jaxopt_lab.rl import TrainConfig, config_for, make_trainer
from jaxopt_lab.rl.optimizers import LR_SCALE, OPTIMIZER_STEPS, optimizer_step

OPTIMIZERS = tuple(OPTIMIZER_STEPS)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(
    num_envs=2,
    num_steps=8,
    total_timesteps=3 * 16,
    update_epochs=2,
    num_minibatches=2,
    hidden_sizes=(8,),
    eval_episodes=2,
)


@pytest.fixture(scope="module")
def train_tiny():
    """``(optimizer, sam_rho) -> (final params, metrics)`` of a tiny CartPole run, cached."""
    cache = {}

    def run(optimizer: str, sam_rho: float | None = None):
        if (optimizer, sam_rho) not in cache:
            config = config_for("CartPole-v1", "ppo", optimizer=optimizer, sam_rho=sam_rho, **TINY)
            state, metrics = jax.jit(make_trainer(config).train)(
                jax.random.key(0), config.hparams()
            )
            cache[optimizer, sam_rho] = jax.device_get(((state.actor, state.critic), metrics))
        return cache[optimizer, sam_rho]

    return run


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_finitely(train_tiny, optimizer):
    params, metrics = train_tiny(optimizer)
    assert not metrics["nonfinite"].any()
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(params))
    assert np.all(metrics["actor_grad_norm"] > 0) and np.all(metrics["critic_grad_norm"] > 0)


def test_sam_rho0_equals_no_sam_and_rho_moves_the_gradient_point(train_tiny):
    plain, _ = train_tiny("adam")
    rho0, _ = train_tiny("adam", 0.0)
    rho, _ = train_tiny("adam", 0.5)
    # rho = 0 evaluates the gradient again at the same point: the same training, to rounding.
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), plain, rho0)
    # rho > 0 steps with the gradient at the perturbed point: a different, finite training.
    diffs = jax.tree.map(lambda a, b: np.abs(a - b).max(), rho0, rho)
    assert max(jax.tree.leaves(diffs)) > 1e-3
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(rho))


def test_default_learning_rate_follows_the_optimizer_unless_given():
    adam = config_for("CartPole-v1", "ppo")
    assert config_for("CartPole-v1", "ppo", optimizer="lion").learning_rate == pytest.approx(
        adam.learning_rate * LR_SCALE["lion"]
    )
    assert LR_SCALE["lion"] < 1 / 3 and LR_SCALE["cautious_lion"] == LR_SCALE["lion"]
    explicit = config_for("CartPole-v1", "ppo", optimizer="lion", learning_rate=1e-3)
    assert explicit.learning_rate == 1e-3
    # A2C's rate is tuned for its RMSprop: Adam-like optimizers keep it, Lion scales it.
    a2c = config_for("CartPole-v1", "a2c")
    assert config_for("CartPole-v1", "a2c", optimizer="adam").learning_rate == a2c.learning_rate
    assert config_for("Pendulum-v1", "ppo", optimizer="cautious_lion").learning_rate == (
        pytest.approx(1e-3 * LR_SCALE["cautious_lion"])
    )
    assert set(LR_SCALE) == set(OPTIMIZERS)
    # 3e-4 * 0.2 is 5.9999999999999995e-05 in floats: config.json shows the rate users expect.
    assert repr(config_for("brax/inverted_pendulum", "ppo", optimizer="lion").learning_rate) == (
        "6e-05"
    )


def test_rmsprop_stays_pytorch_rmsprop():
    params = {"w": np.linspace(-1.0, 1.0, 5)}
    grads = {"w": np.array([0.3, -2.0, 0.0, 1e-3, 5.0])}
    ours, reference = (
        optimizer_step("rmsprop", 7e-4),
        optax.rmsprop(7e-4, decay=0.99, eps=1e-5, eps_in_sqrt=False),
    )
    state_a, state_b = ours.init(params), reference.init(params)
    for _ in range(3):
        a, state_a = ours.update(grads, state_a, params)
        b, state_b = reference.update(grads, state_b, params)
        np.testing.assert_array_equal(a["w"], b["w"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(optimizer="nadam"), "optimizer: unknown value 'nadam'; allowed: adam, adamw"),
        (dict(sam_rho=-0.1), "sam_rho: got -0.1; must be >= 0"),
        (dict(sam_rho=float("nan")), "sam_rho: got nan"),
    ],
)
def test_bad_optimizer_settings_fail_before_compiling(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


def test_cli_rejects_bad_optimizer_and_sam_rho(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args, message in (
        (["--optimizer", "nadam"], "allowed: adam, adamw, rmsprop, lion, adamp, sgdp"),
        (["--sam-rho", "-1"], "sam_rho: got -1.0; must be >= 0"),
    ):
        result = subprocess.run(
            [sys.executable, str(ROOT / "experiments" / "train.py"), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in result.stderr
        assert not (tmp_path / "runs").exists()
