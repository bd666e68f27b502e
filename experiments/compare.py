"""Compare policy optimizers: algorithms x environments x seeds, one vmapped program per pair.

python experiments/compare.py                                   # the README's comparison
python experiments/compare.py --algos ppo trpo --envs CartPole-v1 --num-seeds 4
python experiments/compare.py --total-timesteps 100000 --out runs/quick
python experiments/compare.py --algos ppo dpo --drift-file runs/lpo/mean.npz  # + a learned drift
python experiments/compare.py --override learning_rate=1e-2 num_envs=16  # every pair

Each (algorithm, environment) pair uses the library's presets (``config_for``) and writes an
ordinary run directory under ``--out``; the comparison adds ``table.csv``, ``table.md`` and
``curves-<env>.png`` (IQM band over seeds per algorithm; a non-finite run dashed, marked).
"""

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import tyro

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.distributed import set_cpu_devices, start_processes

try:
    start_processes(sys.argv[1:])  # the CPU devices, before gymnax (imported below) starts JAX
except ValueError as error:
    fail(str(error))
from jaxopt_lab.fields import rng_seed
from jaxopt_lab.launch.cli import parse_overrides
from jaxopt_lab.launch.compare import (
    format_table,
    run_comparison,
    validate_comparison,
)
from jaxopt_lab.rl import ALGORITHMS, TrainConfig, config_for
from jaxopt_lab.rl.config import algorithm_class


@dataclass(frozen=True)
class CompareArgs:
    """Train every algorithm on every environment over --num-seeds seeds."""

    algos: Annotated[
        tuple[str, ...],
        tyro.conf.arg(
            help=f"Algorithms to compare, any of {', '.join(ALGORITHMS)} (lpo needs --drift-file)."
        ),
    ] = tuple(algo for algo in ALGORITHMS if algo != "lpo")
    drift_file: str | None = None
    """Learned drift file (mean.npz of experiments/lpo_meta.py): adds lpo to the algorithms."""
    envs: tuple[str, ...] = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "brax/inverted_pendulum")
    """Environments: gymnax ids or brax/<name> (experiments/train.py --help lists them)."""
    num_seeds: int = 8
    """Seeds per (algorithm, environment), trained together in one vmapped program."""
    seed: int = 0
    """Experiment seed (the same for every pair, so pairs see the same evaluation keys)."""
    total_timesteps: int | None = None
    """Env steps per seed for every pair (default: each environment's preset)."""
    override: tuple[str, ...] = ()
    """Setting FIELD=VALUE pairs applied to every pair whose algorithm has the setting."""
    out: str | None = None
    """Comparison directory (default: runs/compare-<time>)."""
    progress: bool = True
    """Show a progress bar per run."""
    cpu_devices: int | None = None
    """XLA devices the host CPU exposes (default: its cores); each pair's seeds are sharded
    over them."""


def build_configs(args: CompareArgs) -> list[TrainConfig]:
    """One resolved config per (environment, algorithm); ``ValueError`` for bad input."""
    algos = (*args.algos, "lpo") if args.drift_file and "lpo" not in args.algos else args.algos
    classes = [algorithm_class(algo) for algo in algos]
    overrides = parse_overrides(args.override, classes)
    if args.total_timesteps is not None:
        overrides["total_timesteps"] = args.total_timesteps
    if args.drift_file is not None:
        overrides["drift_file"] = args.drift_file
    configs = []
    for env in args.envs:
        for cls in classes:
            own = {f.name for f in cls.__dataclass_fields__.values()}
            chosen = {
                k: v
                for k, v in overrides.items()
                if k in own or k in TrainConfig.__dataclass_fields__
            }
            configs.append(config_for(env, cls, **chosen))
    return configs


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(CompareArgs, argv)
        set_cpu_devices(args.cpu_devices)  # checks it (the devices are set when imported)
        rng_seed("seed", args.seed)
        out = args.out if args.out is not None else time.strftime("runs/compare-%Y%m%d-%H%M%S")
        configs = build_configs(args)
        path = validate_comparison(configs, args.num_seeds, out)
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    table = run_comparison(
        configs,
        args.num_seeds,
        path,
        seed=args.seed,
        progress=args.progress,
        on_run=lambda s: print(f"{s['algo']} on {s['env']}: {s['status']}", flush=True),
    )
    print(format_table(table))
    print(f"comparison directory: {path}")
    return 0 if (table["status"] == "ok").all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
