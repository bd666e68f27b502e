"""Population scaling: aggregate env steps/s of 1, 8, 64 and 512 runs of the canonical PPO
CartPole-v1 config, each population one sharded program (run in groups where the population's
plan says so: on CPU at most 16 runs per device), on this machine's host devices and again on
8 emulated devices (each device count in its own process: JAX fixes it at start).

    python experiments/bench_scaling.py                        # this machine, then 8 devices
    python experiments/bench_scaling.py --runs 1 64 1024 4096  # on an accelerator

Each population trains ``--updates`` updates per run (the throughput does not depend on the
budget), compiled ahead of time; the timed run (every group) follows a warm-up call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jaxopt_lab.console import entry_point, fail, parse


@dataclass(frozen=True)
class ScalingArgs:
    runs: tuple[int, ...] = (1, 8, 64, 512)
    """Population sizes (seeds of one config)."""
    updates: int = 64
    """Updates per run (512 env steps each)."""
    devices: tuple[int, ...] = (len(os.sched_getaffinity(0)), 8)
    """Host device counts, each measured in its own process (ignored on accelerators)."""
    env: str = "CartPole-v1"
    """Environment of the canonical config (a gymnax id or brax/<name>)."""
    worker: bool = False
    """Internal: measure in this process (its device count already set)."""


def worker(args: ScalingArgs) -> None:
    import jax

    from jaxopt_lab.launch import Population
    from jaxopt_lab.rl import config_for

    jax.config.update("jax_enable_compilation_cache", False)  # first-run compile times
    config = config_for(args.env)
    config = config.replace(total_timesteps=config.batch_size * args.updates)
    for runs in args.runs:
        population = Population(config, runs, chunk=config.num_updates)
        compile_seconds = population.compile()
        population.run(0)  # warm-up
        seconds = 0.0
        for group in range(len(population.groups)):
            state, _, group_seconds = population.run(group)
            jax.block_until_ready(state)
            seconds += group_seconds
        steps = runs * config.num_updates * config.batch_size
        row = {
            "devices": jax.device_count(),
            "kind": jax.devices()[0].device_kind,
            "runs": runs,
            "groups": len(population.groups),
            "compile_seconds": compile_seconds,
            "steps_per_second": steps / seconds,
        }
        print(json.dumps(row), flush=True)


def check(args: ScalingArgs) -> ScalingArgs:
    """``ValueError`` naming the first bad flag."""
    from jaxopt_lab.distributed import MAX_CPU_DEVICES
    from jaxopt_lab.envs import validate_env_name
    from jaxopt_lab.fields import at_least

    for name in ("runs", "devices"):
        if not getattr(args, name):
            raise ValueError(f"{name}: got none; give at least one")
    for runs in args.runs:
        at_least(1)("runs", runs)
    for count in args.devices:
        if not 1 <= count <= MAX_CPU_DEVICES:
            raise ValueError(f"devices: got {count}; must be in [1, {MAX_CPU_DEVICES}]")
    at_least(1)("updates", args.updates)
    validate_env_name(args.env)
    return args


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = check(parse(ScalingArgs, argv))
    except ValueError as error:
        fail(str(error))
    if args.worker:
        worker(args)
        return 0
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, env {args.env}")
    print("| devices | runs | groups | aggregate env steps/s | per run | compile s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for count in args.devices:
        command = [sys.executable, __file__, "--worker", "--updates", str(args.updates),
                   "--env", args.env, "--runs", *map(str, args.runs)]  # fmt: skip
        env = {**os.environ, "JAX_NUM_CPU_DEVICES": str(count)}
        paths = (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH"))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))  # keep the caller's
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            return 1
        for line in result.stdout.splitlines():
            row = json.loads(line)
            print(f"| {row['devices']} {row['kind']} | {row['runs']} | {row['groups']} | "
                  f"{row['steps_per_second']:,.0f} | {row['steps_per_second'] / row['runs']:,.0f} "
                  f"| {row['compile_seconds']:.1f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
