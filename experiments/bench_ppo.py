"""Throughput benchmark: SPEC section 2's canonical PPO CartPole-v1 config over 8 seeds.

    python experiments/bench_ppo.py [--num-seeds 8] [--total-timesteps 500000]

Prints compile seconds, train seconds, env steps per second (all seeds, compile excluded),
peak resident memory, the final evaluation returns, and the overhead of running the same
training as chunks with a progress bar (the experiment path) relative to one program.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

import jax
import numpy as np
import tyro
from tqdm.auto import tqdm

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.experiment.batch import SeedBatch
from jaxopt_lab.rl import TrainConfig


@dataclass(frozen=True)
class BenchArgs:
    num_seeds: int = 8
    total_timesteps: int = 500_000
    repeats: int = 2
    """Timed repetitions of each variant (the best is reported: the machine is shared)."""


def canonical_config(total_timesteps: int) -> TrainConfig:
    """lr 2.5e-4, 4 envs x 128 steps, 4 epochs x 4 minibatches, 64-64 tanh, annealed LR."""
    return TrainConfig(
        env="CartPole-v1",
        num_envs=4,
        num_steps=128,
        total_timesteps=total_timesteps,
        update_epochs=4,
        num_minibatches=4,
        hidden_sizes=(64, 64),
        activation="tanh",
        learning_rate=2.5e-4,
        anneal_lr=True,
    )


def main() -> None:
    args = tyro.cli(BenchArgs)
    config = canonical_config(args.total_timesteps)
    steps = args.num_seeds * config.num_updates * config.batch_size
    single = SeedBatch(config, args.num_seeds, chunk=config.num_updates)
    chunked = SeedBatch(config, args.num_seeds)
    compile_seconds = single.compile()
    chunked.compile()

    single_times, chunked_times = [], []
    for _ in range(args.repeats):
        state, _, seconds = single.run()
        single_times.append(seconds)
        with tqdm(total=config.num_updates, unit="update", leave=False) as bar:
            _, _, seconds = chunked.run(lambda s, done, m, bar=bar: bar.update(chunked.chunk))
        chunked_times.append(seconds)
    returns, _ = single.evaluate(state)
    train_seconds = min(single_times)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    per_seed = config.num_updates * config.batch_size
    print(f"canonical PPO CartPole-v1, {args.num_seeds} seeds x {per_seed:,} steps")
    print(
        f"  jax {jax.__version__}, backend {jax.default_backend()}, {jax.device_count()} device(s)"
    )
    print(f"  compile seconds      {compile_seconds:8.2f}")
    print(f"  train seconds        {train_seconds:8.2f}  (best of {args.repeats})")
    print(f"  env steps / second   {steps / train_seconds:8,.0f}")
    print(f"  peak memory (RSS)    {peak_mib:8.0f} MiB")
    print(f"  final return/seed    {np.round(returns, 1).tolist()}")
    print(
        f"  chunked + progress   {min(chunked_times):8.2f} s in "
        f"{config.num_updates // chunked.chunk} chunks: "
        f"overhead x{min(chunked_times) / train_seconds:.3f} vs one program"
    )


if __name__ == "__main__":
    main()
