"""A new algorithm defined entirely here, trained through the public API, no library edit:
REINFORCE with a learned baseline (Williams 1992), the README's "Adding an algorithm"."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxopt_lab.fields import boolean, positive
from jaxopt_lab.launch import Population
from jaxopt_lab.launch.cli import parse_train_args
from jaxopt_lab.rl import ALGORITHMS, Algorithm, config_for, register, static, traced


@pytest.fixture(scope="module")
def reinforce():
    @register
    class Reinforce(Algorithm):
        """One full-batch step per rollout on ``-mean(log pi(a|s) (G - V(s)))``; the trainer
        fits the baseline V to the returns G (``gae_lambda = 1``)."""

        name = "reinforce"
        preset: ClassVar[dict] = {"gae_lambda": 1.0, "num_envs": 8, "num_steps": 64}
        actor_lr: float = traced(1e-2, positive, "the actor's learning rate")
        use_baseline: bool = static(True, boolean, "subtract the learned V(s) from G")

        def init_actor_state(self, ctx, actor, hp):
            return optax.adam(self.actor_lr).init(actor)

        def update_actor(self, ctx, actor, opt_state, batch, hp, update):
            weight = ctx.advantages(batch) if self.use_baseline else batch.target

            def loss(actor):
                dist = ctx.policy(actor, batch.obs)
                entropy = dist.entropy().mean()
                return -jnp.mean(dist.log_prob(batch.action) * weight) - hp.ent_coef * entropy

            value, grads = jax.value_and_grad(loss)(actor)
            updates, opt_state = optax.adam(self.actor_lr).update(grads, opt_state, actor)
            return optax.apply_updates(actor, updates), opt_state, {"actor_loss": value}

    yield Reinforce
    ALGORITHMS.pop("reinforce")


def test_reinforce_learns_cartpole(reinforce):
    config = config_for("CartPole-v1", "reinforce", total_timesteps=60_000, hidden_sizes=(32, 32))
    assert (config.num_envs, config.gae_lambda, config.algo.actor_lr) == (8, 1.0, 1e-2)
    batch = Population(config, num_seeds=2, seed=0, chunk=config.num_updates)
    state, metrics, _ = batch.run()
    returns = metrics["episode_return"]
    early, late = np.nanmean(returns[:, :10]), np.nanmean(returns[:, -10:])
    assert late > early + 100, (early, late)
    assert isinstance(state.actor_state[0], optax.ScaleByAdamState)
    value_loss = metrics["value_loss"]
    assert np.isfinite(value_loss).all() and not metrics["nonfinite"].any()
    final = batch.evaluate(0, state)
    assert final.mean() > 100


def test_its_settings_are_flags_and_checked(reinforce):
    config, _ = parse_train_args(["--algo", "reinforce", "--actor-lr", "0.02", "--no-use-baseline"])
    assert config.algo == reinforce(actor_lr=0.02, use_baseline=False)
    assert config.num_steps == 64  # its preset
    with pytest.raises(ValueError, match=r"actor_lr: got -1.0; must be > 0"):
        config_for("CartPole-v1", "reinforce", actor_lr=-1.0)
