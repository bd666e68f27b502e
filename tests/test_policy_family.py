"""The policy-objective family on the shared trainer: drifts, and A2C as a special case of PPO."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab.objectives import discovered_drift, ppo_drift, zero_drift
from jaxopt_lab.rl import config_for, make_trainer

RATIOS = jnp.linspace(0.2, 3.0, 57)
ADVANTAGES = jnp.linspace(-4.0, 4.0, 33)
DRIFTS = {
    "ppo": lambda r, a: ppo_drift(r, a, 0.2),
    "a2c": zero_drift,
    "dpo": lambda r, a: discovered_drift(r, a, 2.0, 0.6),
}


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_drift_mirror_learning_conditions(name):
    """drift >= 0 on a grid; drift = 0 and d drift / dr = 0 at r = 1 (Kuba et al. 2022)."""
    drift = DRIFTS[name]
    r, a = jnp.meshgrid(RATIOS, ADVANTAGES)
    assert float(drift(r, a).min()) >= 0.0
    ones = jnp.ones_like(ADVANTAGES)
    np.testing.assert_allclose(drift(ones, ADVANTAGES), 0.0, atol=1e-7)
    grad = jax.vmap(jax.grad(drift))(ones, ADVANTAGES)
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_discovered_drift_hand_values():
    # A = 1, r = 3: (r-1)A = 2 -> 2 - 2 tanh(1)
    # A = -1, r = 0.5: log(r)A = 0.693 -> x - .6 tanh(x/.6)
    assert float(discovered_drift(jnp.array(3.0), jnp.array(1.0))) == pytest.approx(
        2 - 2 * np.tanh(1.0), rel=1e-6
    )
    x = np.log(2.0)
    assert float(discovered_drift(jnp.array(0.5), jnp.array(-1.0))) == pytest.approx(
        x - 0.6 * np.tanh(x / 0.6), rel=1e-5
    )


def clipped_rmsprop(params, grads, nu, lr, max_grad_norm):
    """PyTorch's RMSprop (alpha 0.99, eps 1e-5 outside the sqrt) after global-norm clipping."""
    norm = optax.global_norm(grads)
    grads = jax.tree.map(lambda g: g * jnp.minimum(1.0, max_grad_norm / norm), grads)
    nu = jax.tree.map(lambda v, g: 0.99 * v + 0.01 * g**2, nu, grads)
    params = jax.tree.map(lambda p, g, v: p - lr * g / (jnp.sqrt(v) + 1e-5), params, grads, nu)
    return params, nu


def minimal_a2c_step(ctx, actor, critic, nu, traj, gamma, lr, vf_coef, max_grad_norm):
    """A2C written directly: n-step returns, the actor on ``-A log pi``, the critic on
    ``vf * 0.5 (V - R)^2``, each network clipped and stepped by its own RMSprop (as the
    library's separate actor and critic are; no PPO machinery)."""
    next_values = ctx.value(critic, traj.final_obs)
    returns = np.zeros(traj.reward.shape, np.float32)
    running = np.asarray(next_values[-1])  # bootstrap where the rollout cuts an episode
    for t in reversed(range(traj.reward.shape[0])):
        bootstrap = np.where(traj.terminated[t], 0.0, next_values[t])
        running = np.where(
            traj.done[t], traj.reward[t] + gamma * bootstrap, traj.reward[t] + gamma * running
        )
        returns[t] = running
    advantages = returns - ctx.value(critic, traj.obs)

    def actor_loss(actor):
        log_prob = ctx.policy(actor, traj.obs).log_prob(traj.action)
        return -jnp.mean(advantages * log_prob)

    def critic_loss(critic):
        return vf_coef * 0.5 * jnp.mean((ctx.value(critic, traj.obs) - returns) ** 2)

    actor, nu_actor = clipped_rmsprop(actor, jax.grad(actor_loss)(actor), nu[0], lr, max_grad_norm)
    critic, nu_critic = clipped_rmsprop(
        critic, jax.grad(critic_loss)(critic), nu[1], lr, max_grad_norm
    )
    return actor, critic, (nu_actor, nu_critic)


@pytest.fixture(scope="module")
def a2c_trainer():
    config = config_for("CartPole-v1", "a2c", num_envs=4, hidden_sizes=(16, 16))
    return config, make_trainer(config)


def test_a2c_preset_equals_minimal_a2c(a2c_trainer):
    """Huang et al. 2022: PPO with the A2C preset updates parameters exactly like A2C."""
    config, trainer = a2c_trainer
    hp = config.hparams()
    rollout, learn = jax.jit(trainer.rollout), jax.jit(trainer.learn)
    runner = trainer.init(jax.random.key(3), hp)
    actor, critic = runner.actor, runner.critic
    nu = jax.tree.map(jnp.zeros_like, (actor, critic))
    for _ in range(6):
        runner, traj = rollout(runner, hp)
        actor, critic, nu = minimal_a2c_step(
            trainer.context,
            actor,
            critic,
            nu,
            jax.device_get(traj),
            config.gamma,
            config.learning_rate,
            config.vf_coef,
            config.max_grad_norm,
        )
        runner, diagnostics = learn(runner, traj, hp)
        assert float(diagnostics["clip_fraction"].max()) == 0.0
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6),
            (runner.actor, runner.critic),
            (actor, critic),
        )


def test_a2c_equivalence_breaks_with_two_epochs(a2c_trainer):
    """With a second epoch the ratio leaves 1 and the clip can bind: no longer A2C."""
    config, _ = a2c_trainer
    config = config.replace(update_epochs=2, clip_eps=0.01, learning_rate=1e-2)
    trainer = make_trainer(config)
    hp = config.hparams()
    runner = trainer.init(jax.random.key(3), hp)
    nu = jax.tree.map(jnp.zeros_like, (runner.actor, runner.critic))
    runner, traj = jax.jit(trainer.rollout)(runner, hp)
    actor, _, _ = minimal_a2c_step(
        trainer.context,
        runner.actor,
        runner.critic,
        nu,
        jax.device_get(traj),
        config.gamma,
        config.learning_rate,
        config.vf_coef,
        config.max_grad_norm,
    )
    runner, diagnostics = jax.jit(trainer.learn)(runner, traj, hp)
    assert float(diagnostics["approx_kl"]) > 0.0
    assert float(diagnostics["clip_fraction"]) > 0.0
    differences = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), runner.actor, actor)
    assert max(jax.tree.leaves(differences)) > 1e-3


def small_policy_problem():
    """A tiny linear-softmax policy on fixed states: parameters small enough to build F."""
    key = jax.random.key(0)
    obs = jax.random.normal(key, (64, 3))
    actions = jax.random.randint(jax.random.key(1), (64,), 0, 4)
    advantages = jax.random.normal(jax.random.key(2), (64,))
    old = {"w": 0.3 * jax.random.normal(jax.random.key(3), (3, 4))}

    def dist(params):
        from jaxopt_lab.rl.distributions import Categorical

        return Categorical(obs @ params["w"])

    old_dist = dist(old)
    old_logp = old_dist.log_prob(actions)

    def surrogate(params):
        return jnp.mean(jnp.exp(dist(params).log_prob(actions) - old_logp) * advantages)

    def kl(params):
        return old_dist.kl(dist(params)).mean()

    return old, surrogate, kl


def test_trpo_cg_matches_dense_solve_and_respects_max_kl():
    from jax.flatten_util import ravel_pytree

    from jaxopt_lab.rl.algos import conjugate_gradient, natural_gradient_step

    params, surrogate, kl = small_policy_problem()
    flat, unravel = ravel_pytree(params)
    fisher = jax.hessian(lambda x: kl(unravel(x)))(flat)
    g = jax.grad(lambda x: surrogate(unravel(x)))(flat)
    damping = 0.1
    dense = jnp.linalg.solve(fisher + damping * jnp.eye(flat.size), g)

    def fvp(v):
        return jax.jvp(jax.grad(lambda x: kl(unravel(x))), (flat,), (v,))[1] + damping * v

    np.testing.assert_allclose(conjugate_gradient(fvp, g, 12), dense, rtol=1e-3, atol=1e-6)

    for max_kl in (0.001, 0.01, 0.05):
        new, info = jax.jit(natural_gradient_step, static_argnums=(0, 1))(
            surrogate, kl, params, max_kl, damping
        )
        assert bool(info.accepted)
        assert float(kl(new)) <= max_kl + 1e-7
        assert float(surrogate(new)) > float(surrogate(params))
        np.testing.assert_allclose(float(info.kl), float(kl(new)), rtol=1e-4)


def test_trpo_subsampled_fisher_changes_the_direction_not_the_constraint():
    """A Fisher from every 4th state gives another step; the full-batch KL still binds."""
    from jaxopt_lab.rl.algos import natural_gradient_step
    from jaxopt_lab.rl.distributions import Categorical

    params, surrogate, kl = small_policy_problem()
    obs = jax.random.normal(jax.random.key(0), (64, 3))[::4]

    def subsampled_kl(p):
        return Categorical(obs @ params["w"]).kl(Categorical(obs @ p["w"])).mean()

    step = jax.jit(natural_gradient_step, static_argnums=(0, 1), static_argnames="fisher_kl")
    full, _ = step(surrogate, kl, params, 0.01, 0.1)
    same, _ = step(surrogate, kl, params, 0.01, 0.1, fisher_kl=kl)
    sub, info = step(surrogate, kl, params, 0.01, 0.1, fisher_kl=subsampled_kl)
    np.testing.assert_array_equal(full["w"], same["w"])
    assert float(jnp.abs(sub["w"] - full["w"]).max()) > 1e-4
    assert bool(info.accepted) and float(kl(sub)) <= 0.01 + 1e-7
    assert float(surrogate(sub)) > float(surrogate(params))


def test_trpo_rejects_when_no_candidate_improves():
    from jaxopt_lab.rl.algos import natural_gradient_step

    params, _, kl = small_policy_problem()
    new, info = natural_gradient_step(lambda p: -kl(p), kl, params, 0.01, 0.1)
    assert not bool(info.accepted)
    jax.tree.map(np.testing.assert_array_equal, new, params)


def test_mdpo_penalty_is_kl_of_new_from_old():
    """MDPO penalises KL(pi_new || pi_old); swapping the arguments changes the loss."""
    from jaxopt_lab.objectives import mdpo_loss
    from jaxopt_lab.rl.distributions import Categorical

    new = Categorical(jnp.array([[2.0, 0.0, -1.0]]))
    old = Categorical(jnp.array([[0.0, 0.5, 0.0]]))
    ratio, advantages = jnp.array([1.2]), jnp.array([0.5])
    p = np.exp(new.logits[0]) / np.exp(new.logits[0]).sum()
    q = np.exp(old.logits[0]) / np.exp(old.logits[0]).sum()
    kl_new_old = float(np.sum(p * np.log(p / q)))
    expected = -(1.2 * 0.5 - kl_new_old / 0.5)
    assert float(mdpo_loss(ratio, advantages, new.kl(old), 0.5)) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(mdpo_loss(ratio, advantages, old.kl(new), 0.5)) != pytest.approx(
        expected, rel=1e-3
    )


@pytest.mark.parametrize("algo", ["mdpo", "trpo", "dpo"])
def test_algorithms_train_on_cartpole_and_pendulum(algo):
    for env in ("CartPole-v1", "Pendulum-v1"):
        config = config_for(
            env,
            algo,
            num_envs=4,
            num_steps=32,
            total_timesteps=4 * 32 * 3,
            num_minibatches=2,
            update_epochs=2,
            hidden_sizes=(16, 16),
        )
        trainer = make_trainer(config)
        _, metrics = jax.jit(trainer.train)(jax.random.key(0), config.hparams())
        assert np.isfinite(np.asarray(metrics["loss"])).all(), (algo, env)
        if algo == "trpo":
            assert (np.asarray(metrics["trpo_kl"]) <= config.algo.max_kl + 1e-6).all()


def test_trpo_annealed_trust_region_bounds_every_step():
    config = config_for(
        "CartPole-v1", "trpo", num_envs=4, num_steps=16, total_timesteps=4 * 16 * 4
    ).replace(hidden_sizes=(8,), update_epochs=1, num_minibatches=1)
    assert config.algo.anneal_max_kl
    _, metrics = jax.jit(make_trainer(config).train)(jax.random.key(1), config.hparams())
    bound = config.algo.max_kl * (1.0 - np.arange(config.num_updates) / config.num_updates)
    kl = np.asarray(metrics["trpo_kl"])
    assert (kl <= bound + 1e-7).all()
    assert kl[-1] < 0.5 * kl[0]  # a constant trust region keeps reaching ~0.7 max_kl per step


@pytest.mark.parametrize(
    ("algo", "field", "value", "message"),
    [
        ("ppo", "clip_eps", -0.1, "clip_eps: got -0.1; must be > 0"),
        ("trpo", "max_kl", 0.0, "max_kl: got 0.0; must be > 0"),
        ("trpo", "cg_iterations", 0, "cg_iterations: got 0; must be >= 1"),
        ("trpo", "backtrack_coef", 1.0, "backtrack_coef: got 1.0; must be in (0, 1)"),
        ("mdpo", "mdpo_steps", 2.5, "mdpo_steps: got 2.5; must be an integer >= 1"),
        ("dpo", "dpo_beta", float("inf"), "dpo_beta: got inf; must be > 0 and finite"),
    ],
)
def test_settings_are_checked_before_compiling(algo, field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_for("CartPole-v1", algo, **{field: value})


def test_unknown_algorithm_names_the_allowed_ones():
    with pytest.raises(ValueError, match="algo: unknown value 'sac'; allowed: ppo, a2c, dpo"):
        config_for("CartPole-v1", "sac")
