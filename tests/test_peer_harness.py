"""The peer harness's matmul ceiling does the matrix products of the trainer's minibatch step."""

from __future__ import annotations

from collections import Counter

import jax
from experiment_scripts import load_script
from jax.extend import core as jax_core

from jaxopt_lab.rl import config_for, make_trainer


def dot_generals(jaxpr: jax_core.Jaxpr) -> list[jax_core.JaxprEqn]:
    """Every ``dot_general`` of ``jaxpr`` and of the jaxprs inside it."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn)
        for inner in jax_core.jaxprs_in_params(eqn.params):
            found.extend(dot_generals(inner))
    return found


def innermost_loop_products(jaxpr: jax_core.Jaxpr) -> Counter:
    """``(lhs shape, rhs shape, dimension numbers)`` of the products in the body of the first
    loop (scan or while) of ``jaxpr`` that has products and no inner loop with any."""
    for eqn in jaxpr.eqns:
        for inner in jax_core.jaxprs_in_params(eqn.params):
            deeper = innermost_loop_products(inner)
            if deeper:
                return deeper
            if eqn.primitive.name in ("scan", "while") and dot_generals(inner):
                return Counter(
                    (e.invars[0].aval.shape, e.invars[1].aval.shape, e.params["dimension_numbers"])
                    for e in dot_generals(inner)
                )
    return Counter()


def test_ceiling_runs_the_products_of_the_trainers_minibatch_step():
    config = config_for("CartPole-v1", "ppo", total_timesteps=4 * 128)
    trainer, hp = make_trainer(config), config.hparams()
    runner = jax.eval_shape(trainer.init, jax.random.key(0), hp)
    _, traj = jax.eval_shape(trainer.rollout, runner, hp)
    learn = jax.make_jaxpr(trainer.learn)(runner, traj, hp).jaxpr
    ceiling_train = load_script("peer_harness").ceiling_train(4 * 128)
    ceiling = jax.make_jaxpr(ceiling_train)(jax.random.key(0)).jaxpr

    trainer_products = innermost_loop_products(learn)
    assert sum(trainer_products.values()) == 16  # actor and critic: 3 forward, 2 input, 3 weight
    assert innermost_loop_products(ceiling) == trainer_products
