"""Throughput benchmark: the canonical PPO CartPole-v1 config over 8 seeds.

    python experiments/bench_ppo.py [--num-seeds 8] [--total-timesteps 500000]

Prints compile seconds, train seconds, env steps per second (all seeds, compile excluded),
peak resident memory, the final evaluation returns, and the overhead of running the same
training as chunks with a progress bar (the experiment path) relative to one program. Then the
same for every algorithm on that environment, each resolved by ``config_for`` like every
other entry point (its own presets; A2C's changes the rollout to 5 steps, so its row is A2C as
it is actually run), as time per env step relative to PPO's, measured in the same process.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

import jax
import numpy as np
import tyro
from tqdm.auto import tqdm

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.launch.population import Population
from jaxopt_lab.rl import TrainConfig, config_for


@dataclass(frozen=True)
class BenchArgs:
    num_seeds: int = 8
    total_timesteps: int = 500_000
    repeats: int = 2
    """Timed repetitions of each variant (the best is reported: the machine is shared)."""
    algos: tuple[str, ...] = ("a2c", "dpo", "mdpo", "trpo")
    """Algorithms timed on the canonical config after PPO (empty: PPO only)."""


def canonical_config(total_timesteps: int, algo: str = "ppo") -> TrainConfig:
    """CartPole-v1's preset: lr 2.5e-4, 4 envs x 128 steps, 4 epochs x 4 minibatches,
    64-64 tanh, annealed LR (Huang et al. 2022's canonical PPO config)."""
    return config_for("CartPole-v1", algo, total_timesteps=total_timesteps)


def main() -> None:
    args = tyro.cli(BenchArgs)
    config = canonical_config(args.total_timesteps)
    steps = args.num_seeds * config.num_updates * config.batch_size
    single = Population(config, args.num_seeds, chunk=config.num_updates)
    chunked = Population(config, args.num_seeds)
    compile_seconds = single.compile()
    chunked.compile()

    single_times, chunked_times = [], []
    for _ in range(args.repeats):
        state, _, seconds = single.run()
        single_times.append(seconds)
        with tqdm(total=config.num_updates, unit="update", leave=False) as bar:
            _, _, seconds = chunked.run(on_chunk=lambda s, d, m, bar=bar: bar.update(chunked.chunk))
        chunked_times.append(seconds)
    returns = single.evaluate(0, state)
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
    if args.algos:
        print(algorithm_table(config, args.algos, args.num_seeds, args.repeats))


def time_algorithm(config: TrainConfig, num_seeds: int, repeats: int) -> dict[str, float]:
    """Compile once, train ``repeats`` times (best time), evaluate the last run."""
    batch = Population(config, num_seeds, chunk=config.num_updates)
    compile_seconds = batch.compile()
    times = []
    for _ in range(repeats):
        state, _, seconds = batch.run()
        times.append(seconds)
    returns = batch.evaluate(0, state)
    steps = num_seeds * config.num_updates * config.batch_size
    return {
        "compile": compile_seconds,
        "train": min(times),
        "rate": steps / min(times),
        "median_return": float(np.median(returns)),
    }


def algorithm_table(
    config: TrainConfig, algos: tuple[str, ...], num_seeds: int, repeats: int
) -> str:
    """Per-algorithm compile/train seconds, env steps/s and time per step relative to PPO."""
    rows = {
        algo: time_algorithm(canonical_config(config.total_timesteps, algo), num_seeds, repeats)
        for algo in dict.fromkeys(("ppo", *algos))
    }
    ppo_rate = rows["ppo"]["rate"]
    lines = [
        "algorithm  compile s  train s  env steps/s  time/step vs PPO  median final return",
    ]
    for algo, row in rows.items():
        lines.append(
            f"{algo:<9}  {row['compile']:9.2f}  {row['train']:7.2f}  {row['rate']:11,.0f}  "
            f"x{ppo_rate / row['rate']:16.2f}  {row['median_return']:19.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
