"""One measurement of one system on the canonical PPO CartPole-v1 config, the same for every
system: ``jax.jit(jax.vmap(train))`` over the seeds (with ``--devices N``: the vmap sharded
over N host devices with ``shard_map``, the same wrapper for every system), compiled ahead of
time (timed), called once to warm up and once more, timed. Prints one JSON line.

    python experiments/peer_harness.py jaxopt_lab --num-seeds 8
    <rejax venv>/bin/python experiments/peer_harness.py rejax --num-seeds 8 --devices 2
    python experiments/peer_harness.py ceiling   # the learning phase's matmuls alone

It imports nothing of the project at module level, so it runs in a peer's own virtual
environment (``experiments/bench_peers.py`` creates it and alternates the systems).
Config: 4 envs x 128 steps, 4 epochs x 4 minibatches, 5e5 steps per seed, lr 2.5e-4, gamma
0.99, GAE lambda 0.95, clip 0.2, entropy 0.01, value 0.5, max grad norm 0.5, 64-64 tanh.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

TOTAL_TIMESTEPS = 500_000


def jaxopt_lab_train(total_timesteps: int):
    """``train(key) -> final return`` of this library's PPO (the CartPole-v1 preset)."""
    import jaxopt_lab  # noqa: F401  (its CPU threefry lowering)
    from jaxopt_lab.rl import config_for, make_trainer

    config = config_for("CartPole-v1", "ppo", total_timesteps=total_timesteps)
    trainer, hp = make_trainer(config), config.hparams()

    def train(key: jax.Array) -> jax.Array:
        train_key, eval_key = jax.random.split(key)
        state, _ = trainer.train(train_key, hp)
        return trainer.evaluate(eval_key, state, hp)

    return train


def rejax_train(total_timesteps: int):
    """``train(key) -> final return`` of rejax's PPO on the same settings (rejax 0.1.3 clips
    gradients elementwise and keeps the learning rate constant: it has no annealing)."""
    from rejax import PPO

    algo = PPO.create(
        env="CartPole-v1",
        num_envs=4,
        num_steps=128,
        num_epochs=4,
        num_minibatches=4,
        learning_rate=2.5e-4,
        max_grad_norm=0.5,
        total_timesteps=total_timesteps,
        eval_freq=total_timesteps,
        skip_initial_evaluation=True,
        gamma=0.99,
        gae_lambda=0.95,
        clip_eps=0.2,
        ent_coef=0.01,
        vf_coef=0.5,
        agent_kwargs={"activation": "tanh", "hidden_layer_sizes": (64, 64)},
    )

    def train(key: jax.Array) -> jax.Array:
        _, (_, returns) = algo.train(key)
        return returns[-1].mean()

    return train


def product(a: jax.Array, b: jax.Array, contracting: tuple) -> jax.Array:
    """A 2-D ``dot_general`` contracting ``contracting = (lhs axes, rhs axes)``."""
    return jax.lax.dot_general(a, b, (contracting, ((), ())))


def ceiling_train(total_timesteps: int):
    """``train(key)`` doing only the learning phase's matrix products of the canonical config:
    per minibatch of 128, for the actor (4-64-64-2) and the critic (4-64-64-1), the forward
    products, the input gradients of the two upper layers and the three weight gradients, in
    the shapes and contractions of JAX's autodiff, on zeros (no data-dependent speed), each
    network's products chained through its weights. No environment, rollout, GAE, activation,
    loss or optimizer: its env steps/s are a ceiling for any implementation of the config that
    computes these products with the kernels XLA picks for them on this machine."""
    steps = total_timesteps // (4 * 128) * 4 * 4  # updates x epochs x minibatches
    widths = ((4, 64, 64, 2), (4, 64, 64, 1))

    def minibatch_step(weights: tuple, x: jax.Array) -> tuple:
        stepped = []
        for w1, w2, w3 in weights:
            h1 = product(x, w1, ((1,), (0,)))
            h2 = product(h1, w2, ((1,), (0,)))
            out = product(h2, w3, ((1,), (0,)))
            d2 = product(out, w3, ((1,), (1,)))
            d1 = product(d2, w2, ((1,), (1,)))
            grads = (d1, x), (d2, h1), (out, h2)  # autodiff's order: cotangent first, then .T
            stepped.append(tuple(product(d, a, ((0,), (0,))).T for d, a in grads))
        return tuple(stepped)

    def train(key: jax.Array) -> jax.Array:
        key_bits = jax.random.key_data(key)[0].astype(np.float32)
        zero = jax.lax.optimization_barrier(key_bits * 0.0)  # a zero XLA cannot fold away
        weights = tuple(
            tuple(jnp.full(shape, zero) for shape in itertools.pairwise(sizes)) for sizes in widths
        )
        x = jnp.full((128, 4), zero)
        weights = jax.lax.fori_loop(0, steps, lambda _, w: minibatch_step(w, x), weights)
        return sum(w.sum() for layers in weights for w in layers)

    return train


SYSTEMS = {"jaxopt_lab": jaxopt_lab_train, "rejax": rejax_train, "ceiling": ceiling_train}


def batched(train, devices: int):
    """``jit(vmap(train))``, sharded over ``devices`` host devices when more than one."""
    if devices == 1:
        return jax.jit(jax.vmap(train))
    from jax.sharding import Mesh, PartitionSpec

    mesh = Mesh(np.asarray(jax.devices()[:devices]), ("runs",))
    spec = PartitionSpec("runs")
    return jax.jit(jax.shard_map(jax.vmap(train), mesh=mesh, in_specs=spec, out_specs=spec,
                                 check_vma=False))  # fmt: skip


def measure(system: str, num_seeds: int, total_timesteps: int, devices: int = 1) -> dict:
    train = batched(SYSTEMS[system](total_timesteps), devices)
    keys = jax.random.split(jax.random.key(0), num_seeds)
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_seconds = time.perf_counter() - start
    jax.block_until_ready(compiled(keys))
    start = time.perf_counter()
    returns = jax.block_until_ready(compiled(keys))
    seconds = time.perf_counter() - start
    return {
        "system": system,
        "num_seeds": num_seeds,
        "devices": devices,
        "compile_seconds": compile_seconds,
        "train_seconds": seconds,
        "steps_per_second": num_seeds * total_timesteps / seconds,
        "final_return": np.round(np.asarray(returns), 1).tolist(),
        "jax": jax.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--num-seeds", type=int, default=8)
    parser.add_argument("--total-timesteps", type=int, default=TOTAL_TIMESTEPS)
    parser.add_argument("--devices", type=int, default=1)
    args = parser.parse_args()
    jax.config.update("jax_num_cpu_devices", args.devices)  # before anything starts JAX
    jax.config.update("jax_enable_compilation_cache", False)  # first-run compile times
    result = measure(args.system, args.num_seeds, args.total_timesteps, args.devices)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
