"""Learning-rate x seed sweeps of one optimizer on a synthetic teacher-student regression whose
data the code generates, in one vmapped program (the RL side of ``experiments/optimizers.py``
is an ordinary sweep, :mod:`jaxopt_lab.launch.experiment`).

Every (learning rate, seed) pair is one member of a ``jax.vmap``: the learning rate is a traced
value (``optax.inject_hyperparams``), so a whole sweep compiles once per optimizer. Members are
ordered learning-rate-major: member ``i * num_seeds + j`` has learning rate ``i`` and seed
``j``, and every learning rate sees the same seeds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxopt_lab.launch.population import seed_keys

OptimizerFactory = Callable[[optax.ScalarOrSchedule], optax.GradientTransformation]
"""``learning_rate -> optimizer``, e.g. ``jaxopt_lab.rl.optimizers.OPTIMIZER_STEPS[name]``."""


class RegressionTask(NamedTuple):
    """Inputs and noisy targets of a random two-layer tanh teacher network."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array


def make_regression_task(
    key: jax.Array,
    num_train: int = 1024,
    num_test: int = 1024,
    dim: int = 16,
    teacher_width: int = 32,
    noise: float = 0.1,
) -> RegressionTask:
    """``y = v . tanh(W x) / sqrt(width) + noise``, ``x ~ N(0, I)``, ``W ~ N(0, 1/dim)``."""
    w_key, v_key, x_key, n_key = jax.random.split(key, 4)
    w = jax.random.normal(w_key, (dim, teacher_width)) / jnp.sqrt(dim)
    v = jax.random.normal(v_key, (teacher_width,))
    x = jax.random.normal(x_key, (num_train + num_test, dim))
    y = jnp.tanh(x @ w) @ v / jnp.sqrt(teacher_width)
    y = y + noise * jax.random.normal(n_key, y.shape)
    return RegressionTask(x[:num_train], y[:num_train], x[num_train:], y[num_train:])


def init_mlp(key: jax.Array, sizes: Sequence[int]) -> dict[str, jax.Array]:
    """LeCun-normal weights ``w{i}`` and zero biases ``b{i}`` of an MLP with these layer sizes."""
    params = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        key, sub = jax.random.split(key)
        params[f"w{i}"] = jax.random.normal(sub, (n_in, n_out)) / jnp.sqrt(n_in)
        params[f"b{i}"] = jnp.zeros(n_out)
    return params


def mlp(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Tanh hidden layers, linear scalar output."""
    layers = len(params) // 2
    for i in range(layers):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < layers - 1:
            x = jnp.tanh(x)
    return x[..., 0]


def _members(
    learning_rates: Sequence[float], num_seeds: int, seed: int
) -> tuple[jax.Array, jax.Array]:
    """Training keys and learning rates of every member (lr-major)."""
    train_keys, _ = seed_keys(seed, num_seeds)
    count = len(learning_rates)
    lrs = jnp.repeat(jnp.asarray(learning_rates, jnp.float32), num_seeds)
    return jnp.tile(train_keys, count), lrs


class RegressionSweep(NamedTuple):
    final_loss: np.ndarray  # [num_lrs, num_seeds] test mean squared error after training
    curve: np.ndarray  # [num_lrs, num_seeds, steps // log_every] mean minibatch loss
    curve_steps: np.ndarray  # [steps // log_every] step count at the end of each window


def regression_sweep(
    make_optimizer: OptimizerFactory,
    task: RegressionTask,
    learning_rates: Sequence[float],
    num_seeds: int,
    seed: int = 0,
    steps: int = 1000,
    batch_size: int = 64,
    hidden: Sequence[int] = (64, 64),
    log_every: int = 50,
) -> RegressionSweep:
    """Train the MLP on ``task`` with each learning rate and seed, all in one program.

    Seeds differ in the initialisation and the minibatch order; the data are ``task``'s.
    """
    if steps % log_every:
        raise ValueError(f"log_every: {log_every} does not divide steps {steps}")
    keys, lrs = _members(learning_rates, num_seeds, seed)
    sizes = (task.x_train.shape[1], *hidden, 1)
    optimizer = optax.inject_hyperparams(lambda learning_rate: make_optimizer(learning_rate))

    def loss_fn(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.mean(jnp.square(mlp(params, x) - y))

    def train(key: jax.Array, learning_rate: jax.Array) -> tuple[jax.Array, jax.Array]:
        init_key, data_key = jax.random.split(key)
        params = init_mlp(init_key, sizes)
        opt = optimizer(learning_rate=learning_rate)

        def step(carry, key):
            params, state = carry
            idx = jax.random.randint(key, (batch_size,), 0, task.x_train.shape[0])
            loss, grads = jax.value_and_grad(loss_fn)(params, task.x_train[idx], task.y_train[idx])
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), loss

        carry = (params, opt.init(params))
        (params, _), losses = jax.lax.scan(step, carry, jax.random.split(data_key, steps))
        curve = losses.reshape(-1, log_every).mean(axis=1)
        return loss_fn(params, task.x_test, task.y_test), curve

    final, curve = jax.device_get(jax.jit(jax.vmap(train))(keys, lrs))
    shape = (len(learning_rates), num_seeds)
    return RegressionSweep(
        final_loss=final.reshape(shape),
        curve=curve.reshape(*shape, -1),
        curve_steps=np.arange(1, steps // log_every + 1) * log_every,
    )
