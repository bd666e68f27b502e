"""Policy distributions against scipy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxopt_lab.rl.distributions import Categorical, DiagGaussian


def test_categorical_log_prob_entropy_kl():
    logits = jnp.array([[0.1, 1.0, -2.0], [3.0, 0.0, 0.0]])
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    dist = Categorical(logits)
    np.testing.assert_allclose(
        dist.log_prob(jnp.array([1, 0])), np.log([p[0, 1], p[1, 0]]), rtol=1e-5
    )
    np.testing.assert_allclose(dist.entropy(), stats.entropy(p, axis=-1), rtol=1e-5)
    other = Categorical(logits[::-1])
    np.testing.assert_allclose(dist.kl(other), stats.entropy(p, p[::-1], axis=-1), rtol=1e-5)


def test_categorical_sampling_frequencies():
    dist = Categorical(jnp.log(jnp.array([0.2, 0.5, 0.3])))
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(0), 20000))
    np.testing.assert_allclose(
        np.bincount(samples, minlength=3) / 20000, [0.2, 0.5, 0.3], atol=0.015
    )


def test_diag_gaussian_log_prob_entropy_kl():
    mean, log_std = np.array([[0.5, -1.0]]), np.array([0.2, -0.3])
    dist = DiagGaussian(jnp.asarray(mean), jnp.asarray(log_std))
    action = jnp.array([[0.0, 0.0]])
    expected = stats.norm(mean, np.exp(log_std)).logpdf(action).sum()
    assert float(dist.log_prob(action)[0]) == pytest.approx(expected, rel=1e-5)
    assert float(dist.entropy()[0]) == pytest.approx(
        stats.norm(0, np.exp(log_std)).entropy().sum(), rel=1e-5
    )
    other = DiagGaussian(jnp.array([[0.0, 0.0]]), jnp.array([0.0, 0.0]))
    s1, s2 = np.exp(log_std), 1.0
    kl = np.sum(np.log(s2 / s1) + (s1**2 + (mean[0] - 0.0) ** 2) / (2 * s2**2) - 0.5)
    assert float(dist.kl(other)[0]) == pytest.approx(kl, rel=1e-5)
    assert float(dist.kl(dist)[0]) == pytest.approx(0.0, abs=1e-6)
