"""Meta-train an LPO drift with OpenAI-ES (Lu et al. 2022, "Discovered Policy Optimisation").

python experiments/lpo_meta.py --out runs/lpo-cartpole          # CPU default: CartPole-v1
python experiments/lpo_meta.py --setting ta-cpu --out runs/ta-lpo # TA-LPO over 4 tasks
python experiments/lpo_meta.py --setting ant --out runs/lpo-ant # the paper's Ant (a GPU)
python experiments/train.py --algo lpo --drift-file runs/lpo-cartpole/mean.npz

Re-running the same command with the same ``--out`` resumes from the last checkpoint (another
setting there is refused). The run directory (kind ``es``) holds ``mean.npz`` (the learned
drift), ``metrics.parquet`` (every member's fitness per generation), ``fitness.png`` (its
curve) and ``summary.json``: the fitness curves, wall time per generation and inner env steps
per second.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.distributed import cpu_devices_flag, set_cpu_devices

try:
    set_cpu_devices(cpu_devices_flag(sys.argv[1:]))  # before gymnax (imported below) starts JAX
except ValueError as error:
    fail(str(error))
from jaxopt_lab.analysis import plot_fitness_curve
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.meta.lpo import SETTINGS, LPOSetting, meta_train, setting_record
from jaxopt_lab.rundir import check_out_dir


@dataclass(frozen=True)
class LPOArgs:
    out: str
    """Run directory (resumed when it holds a checkpoint of the same setting)."""
    setting: Literal["cpu", "ta-cpu", "ant"] = "cpu"
    """cpu: CartPole-v1 at a small budget; ta-cpu: temporally-aware LPO over four CartPole-v1
    tasks (learning rates x pole lengths); ant: the paper's brax Ant setting (for a GPU)."""
    num_generations: int | None = None
    """Generations of the ES search (default: the setting's)."""
    population_size: int | None = None
    """Drifts per generation, an even number (default: the setting's)."""
    total_timesteps: int | None = None
    """Inner training budget per run (default: the setting's)."""
    num_envs: int | None = None
    """Parallel environments of each inner run (default: the setting's)."""
    num_seeds: int | None = None
    """Inner training seeds per population member (default: the setting's)."""
    ppo_init: bool | None = None
    """Search relu(PPO drift + f_phi - 1e-4) instead of relu(f_phi - 1e-4) (default: the
    setting's; ta-cpu's is on)."""
    seed: int = 0
    """Seed of the search (its start and every generation's noise and inner runs)."""
    checkpoint_every: int | None = None
    """Generations between checkpoints (default: the setting's)."""
    progress: bool = True
    """Show a progress bar over the generations."""
    cpu_devices: int | None = None
    """XLA devices the host CPU exposes (default: its cores); each generation's members are
    evaluated over as many of them as divide the population."""


def build_setting(args: LPOArgs) -> LPOSetting:
    """The named setting with the command line's overrides, validated."""
    base = SETTINGS[args.setting]
    inner = {k: getattr(args, k) for k in ("total_timesteps", "num_envs")}
    es = {k: getattr(args, k) for k in ("num_generations", "population_size", "checkpoint_every")}
    inner = {k: v for k, v in inner.items() if v is not None}
    setting = dataclasses.replace(
        base,
        inner=base.inner.replace(**inner),
        variants=tuple(variant.replace(**inner) for variant in base.variants),
        es=dataclasses.replace(
            base.es, seed=args.seed, **{k: v for k, v in es.items() if v is not None}
        ),
        num_seeds=base.num_seeds if args.num_seeds is None else args.num_seeds,
        ppo_init=base.ppo_init if args.ppo_init is None else args.ppo_init,
    )
    return setting.validate()


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(LPOArgs, argv)
        set_cpu_devices(args.cpu_devices)  # checks it (the devices are set when imported)
        setting = build_setting(args).check_memory()
        check_out_dir(args.out, config=setting_record(setting))
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    summary = meta_train(setting, args.out, args.progress)
    run = Path(summary["run_dir"])
    ylabel = "fitness: mean final return of the inner runs"
    plot_fitness_curve(summary["result"].fitness, ylabel).savefig(run / "fitness.png", dpi=120)
    curve = np.asarray(summary["fitness_mean"])
    print(
        f"LPO on {summary['env']}: {summary['num_generations']} generations x "
        f"{summary['population_size']} members x {summary['inner_seeds']} seeds "
        f"[{summary['status']}]\n"
        f"  fitness: first generation {curve[0]:.1f}, "
        f"last 10 generations {np.nanmean(curve[-10:]):.1f}\n"
        f"  {summary['seconds_per_generation']:.1f} s/generation, "
        f"{summary['inner_steps_per_second']:,.0f} inner env steps/s "
        f"(members over {summary['devices']} device(s), compile "
        f"{summary['compile_seconds']:.1f} s)\n"
        f"  learned drift: {run / 'mean.npz'}, fitness curve: {run / 'fitness.png'}"
    )
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
