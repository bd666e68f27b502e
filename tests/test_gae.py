"""GAE against a hand-written loop, with termination and truncation in the rollout."""

import jax.numpy as jnp
import numpy as np

from jaxopt_lab.rl import gae


def reference_gae(rewards, values, next_values, terminated, done, gamma, lam):
    advantages = np.zeros_like(rewards)
    running = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * (1 - terminated[t]) * next_values[t] - values[t]
        running = delta + gamma * lam * (1 - done[t]) * running
        advantages[t] = running
    return advantages


def test_gae_matches_hand_computed_steps():
    # step 1 is a truncation (bootstrap from V(final obs) = 5), step 3 a termination.
    rewards = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    values = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
    next_values = np.array([0.6, 5.0, 0.8, 9.0, 1.0])
    terminated = np.array([0, 0, 0, 1, 0])
    done = np.array([0, 1, 0, 1, 0])
    gamma, lam = 0.9, 0.8
    adv, target = gae(
        jnp.asarray(rewards),
        jnp.asarray(values),
        jnp.asarray(next_values),
        jnp.asarray(terminated, bool),
        jnp.asarray(done, bool),
        gamma,
        lam,
    )
    # by hand: A4 = 1 + .9*1 - .9 = 1.0; A3 = 1 - .8 = .2 (terminal, recursion cut);
    # A2 = 1 + .9*.8 - .7 + .72*A3 = 1.164; A1 = 1 + .9*5 - .6 = 4.9 (truncated: bootstrap, cut);
    # A0 = 1 + .9*.6 - .5 + .72*4.9 = 4.568
    expected = np.array([4.568, 4.9, 1.164, 0.2, 1.0])
    np.testing.assert_allclose(adv, expected, rtol=1e-6)
    np.testing.assert_allclose(target, expected + values, rtol=1e-6)
    np.testing.assert_allclose(
        adv, reference_gae(rewards, values, next_values, terminated, done, gamma, lam), rtol=1e-6
    )


def test_truncation_is_not_termination():
    args = dict(rewards=jnp.ones(3), values=jnp.zeros(3), next_values=jnp.full(3, 10.0))
    truncated = gae(
        **args,
        terminated=jnp.zeros(3, bool),
        done=jnp.array([0, 0, 1], bool),
        gamma=0.99,
        gae_lambda=0.95,
    )[0]
    terminated = gae(
        **args,
        terminated=jnp.array([0, 0, 1], bool),
        done=jnp.array([0, 0, 1], bool),
        gamma=0.99,
        gae_lambda=0.95,
    )[0]
    assert truncated[-1] == 1.0 + 0.99 * 10.0
    assert terminated[-1] == 1.0


def test_gae_batched_over_envs():
    rng = np.random.default_rng(0)
    shape = (7, 3)
    r, v, nv = rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape)
    term = rng.random(shape) < 0.2
    done = term | (rng.random(shape) < 0.2)
    adv, _ = gae(
        jnp.asarray(r),
        jnp.asarray(v),
        jnp.asarray(nv),
        jnp.asarray(term),
        jnp.asarray(done),
        0.97,
        0.9,
    )
    for env in range(shape[1]):
        np.testing.assert_allclose(
            adv[:, env],
            reference_gae(r[:, env], v[:, env], nv[:, env], term[:, env], done[:, env], 0.97, 0.9),
            rtol=1e-5,
            atol=1e-6,
        )
