"""Throughput benchmark: the canonical PPO CartPole-v1 config over 8 seeds.

    python experiments/bench_ppo.py [--num-seeds 8] [--total-timesteps 500000]

Prints compile seconds, train seconds, env steps per second (all seeds, compile excluded),
peak resident memory, the final evaluation returns, and the overhead of running the same
training as chunks with a progress bar (the experiment path) relative to one program. Then the
same for every algorithm on that environment, each resolved by ``config_for`` like every
other entry point (its own presets; A2C's changes the rollout to 5 steps, so its row is A2C as
it is actually run), as time per env step relative to PPO's, measured in the same process.
Last, the learning phase (the critic's and actor's minibatch loop, 8 seeds), on one device and
sharded over every host device: its matmul FLOPs over its time, against a 512x512 float32
matmul's rate (and the trainer's own batched layer matmul) measured in the same run. The
population runs sharded over the host's devices (``--cpu-devices``, default: its cores).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.distributed import set_cpu_devices
from jaxopt_lab.fields import at_least, check_choice


@dataclass(frozen=True)
class BenchArgs:
    num_seeds: int = 8
    """Seeds of the canonical config, trained together in one program."""
    total_timesteps: int = 500_000
    """Env steps per seed."""
    repeats: int = 2
    """Timed repetitions of each variant (the best is reported: the machine is shared)."""
    algos: tuple[str, ...] = ("a2c", "dpo", "mdpo", "trpo")
    """Algorithms timed on the canonical config after PPO (names of --algo in
    experiments/train.py but lpo; empty: PPO only)."""
    cpu_devices: int | None = None
    """Host devices the population is sharded over (default: the cores)."""


def canonical_config(total_timesteps: int, algo: str = "ppo"):
    """CartPole-v1's preset: lr 2.5e-4, 4 envs x 128 steps, 4 epochs x 4 minibatches,
    64-64 tanh, annealed LR (Huang et al. 2022's canonical PPO config)."""
    from jaxopt_lab.rl import config_for

    return config_for("CartPole-v1", algo, total_timesteps=total_timesteps)


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(BenchArgs, argv)
        for name in ("num_seeds", "total_timesteps", "repeats"):
            at_least(1)(name, getattr(args, name))
        set_cpu_devices(args.cpu_devices)
        from jaxopt_lab.rl import ALGORITHMS  # after the devices are set

        for algo in args.algos:
            check_choice("algos", algo, [a for a in ALGORITHMS if a != "lpo"])
        config = canonical_config(args.total_timesteps)
    except ValueError as error:
        fail(str(error))
    jax.config.update("jax_enable_compilation_cache", False)  # first-run compile times
    from jaxopt_lab.launch.population import Population

    steps = args.num_seeds * config.num_updates * config.batch_size
    single = Population(config, args.num_seeds, chunk=config.num_updates)
    chunked = Population(config, args.num_seeds)
    compile_seconds = single.compile()
    chunked.compile()

    single_times, chunked_times = [], []
    for _ in range(args.repeats):
        state, _, seconds = single.run()
        single_times.append(seconds)
        with tqdm(total=config.num_updates, unit="update", leave=False, disable=None) as bar:
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
    print(learning_flop_rate(config, args.num_seeds))
    return 0


def time_algorithm(config, num_seeds: int, repeats: int) -> dict[str, float]:
    """Compile once, train ``repeats`` times (best time), evaluate the last run."""
    from jaxopt_lab.launch.population import Population

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


def algorithm_table(config, algos: tuple[str, ...], num_seeds: int, repeats: int) -> str:
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


def best_ms(fn, *args, repeats: int = 30) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def learn_program(trainer, hp, runner, traj, devices: int):
    """The compiled learning phase of the population over the first ``devices`` devices,
    laid out as ``Population`` lays runs out."""
    from jax.sharding import Mesh

    from jaxopt_lab.launch.population import RUNS, shard_runs

    mesh = Mesh(np.asarray(jax.devices()[:devices]), (RUNS,))
    return shard_runs(trainer.learn, mesh).lower(runner, traj, hp).compile()


def learning_flop_rate(config, num_seeds: int) -> str:
    """The learning phase (the critic's and actor's minibatch loop over the population): its
    matmul FLOPs (counted from the network shapes: forward 2 and backward 4 FLOPs per weight
    per sample, for actor and critic, on every sample of every epoch) over its time, on one
    device and sharded over every host device, against a 512x512 float32 matmul (XLA spreads
    it over every core) and the trainer's own batched hidden-layer matmul, measured now.
    XLA's ``cost_analysis`` counts a scan's body once, so it cannot give this count."""
    from jaxopt_lab.launch import broadcast_hparams
    from jaxopt_lab.rl import make_trainer

    trainer = make_trainer(config)
    hp = broadcast_hparams(config.hparams(), num_seeds)
    keys = jax.random.split(jax.random.key(0), num_seeds)
    runner = jax.jit(jax.vmap(trainer.init))(keys, hp)
    runner, traj = jax.jit(jax.vmap(trainer.rollout))(runner, hp)
    weights = sum(
        leaf.size // num_seeds
        for tree in (runner.actor, runner.critic)
        for leaf in jax.tree.leaves(tree)
        if leaf.ndim == 3  # [seeds, in, out] kernels; biases add no matmul work
    )
    flops = 6 * weights * num_seeds * config.update_epochs * config.batch_size
    peak = matmul_rate(jnp.ones((512, 512), jnp.float32), jnp.ones((512, 512), jnp.float32))
    width = config.hidden_sizes[-1]
    layer = matmul_rate(
        jnp.ones((num_seeds, config.minibatch_size, width)), jnp.ones((num_seeds, width, width))
    )
    lines = [
        f"learning phase, {num_seeds} seeds: {flops / 1e9:.2f} GFLOP per update; 512x512 "
        f"matmul {peak:.0f} GFLOP/s, the trainer's [{num_seeds},{config.minibatch_size},{width}]"
        f"x[{num_seeds},{width},{width}] matmul {layer:.0f} GFLOP/s"
    ]
    for devices in dict.fromkeys((1, jax.device_count())):
        learn = learn_program(trainer, hp, runner, traj, devices)
        learn_ms = best_ms(learn, runner, traj, hp)
        rate = flops / learn_ms * 1e-6
        lines.append(
            f"  {devices} device(s): {learn_ms:.2f} ms = {rate:.0f} GFLOP/s, "
            f"{100 * rate / peak:.0f}% of the 512x512 matmul"
        )
    return "\n".join(lines)


def matmul_rate(a: jax.Array, b: jax.Array) -> float:
    """GFLOP/s of ``a @ b`` (batched if 3-D), compiled, median of 200 calls."""
    matmul = jax.jit(jnp.matmul).lower(a, b).compile()
    flops = 2 * a.size * b.shape[-1]
    return flops / best_ms(matmul, a, b, repeats=200) * 1e-6


if __name__ == "__main__":
    raise SystemExit(main())
