"""The PPO objective as a drift, and the value loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.objectives import drift_policy_loss, ppo_clip_loss, ppo_drift, value_loss

R, A = np.meshgrid(np.linspace(0.3, 2.0, 41), np.linspace(-3.0, 3.0, 31))


def test_ppo_clip_loss_is_the_clipped_surrogate():
    r, a = jnp.asarray(R.ravel()), jnp.asarray(A.ravel())
    expected = -np.mean(np.minimum(R * A, np.clip(R, 0.8, 1.2) * A))
    assert float(ppo_clip_loss(r, a, 0.2)) == pytest.approx(expected, rel=1e-6)
    grad = jax.grad(lambda x: ppo_clip_loss(x, a, 0.2))(r)
    # gradient is -A/n inside the trust region, 0 where the clip binds in A's favour
    inside = np.abs(R.ravel() - 1) < 0.19
    np.testing.assert_allclose(grad[inside], -A.ravel()[inside] / r.size, rtol=1e-5)


def test_ppo_drift_mirror_learning_conditions():
    drift = ppo_drift(jnp.asarray(R), jnp.asarray(A), 0.2)
    assert float(drift.min()) >= 0.0
    at_one = jnp.ones(31)
    a = jnp.asarray(A[:, 0])
    np.testing.assert_array_equal(ppo_drift(at_one, a, 0.2), 0.0)
    d_dr = jax.vmap(jax.grad(lambda r, x: ppo_drift(r, x, 0.2)))(at_one, a)
    np.testing.assert_array_equal(d_dr, 0.0)


def test_drift_policy_loss_with_zero_drift_is_the_policy_gradient_surrogate():
    r, a = jnp.asarray(R.ravel()), jnp.asarray(A.ravel())
    loss = drift_policy_loss(lambda r, a: jnp.zeros_like(r), r, a + 0.5)
    assert float(loss) == pytest.approx(-np.mean(R * (A + 0.5)), rel=1e-5)


def test_value_loss_plain_and_clipped():
    v, target, old = jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]), jnp.array([0.5, 3.0])
    assert float(value_loss(v, target)) == pytest.approx(0.5 * (1 + 4) / 2)
    # clipped values: 0.5 + clip(0.5, +-.2) = 0.7; 3 + clip(-1, +-.2) = 2.8 -> max per element
    expected = 0.5 * (max(1.0, 0.49) + max(4.0, 7.84)) / 2
    assert float(value_loss(v, target, old, 0.2)) == pytest.approx(expected)
