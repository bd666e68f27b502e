"""Meta-train an LPO drift with OpenAI-ES (Lu et al. 2022, "Discovered Policy Optimisation").

python experiments/lpo_meta.py --out runs/lpo-cartpole          # CPU default: CartPole-v1
python experiments/lpo_meta.py --setting ant --out runs/lpo-ant # the paper's Ant (a GPU)
python experiments/train.py --algo lpo --drift runs/lpo-cartpole/mean.npz

Re-running with the same ``--out`` resumes from the last checkpoint. The directory gets the ES
engine's files (``mean.npz`` is the learned drift) and ``summary.json``: the fitness curve,
wall time per generation and inner env steps per second.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import tyro

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.experiment.cli import fail
from jaxopt_lab.meta.lpo import SETTINGS, LPOSetting, meta_train


@dataclass(frozen=True)
class LPOArgs:
    out: str
    """Run directory (resumed when it holds a checkpoint of the same setting)."""
    setting: Literal["cpu", "ant"] = "cpu"
    """cpu: CartPole-v1 at a small budget; ant: the paper's brax Ant setting (for a GPU)."""
    num_generations: int | None = None
    population_size: int | None = None
    total_timesteps: int | None = None
    """Inner training budget per run (default: the setting's)."""
    num_envs: int | None = None
    num_seeds: int | None = None
    """Inner training seeds per population member (default: the setting's)."""
    ppo_init: bool = False
    """Search ``relu(PPO drift + f_phi - 1e-4)`` instead of ``relu(f_phi - 1e-4)``."""
    seed: int = 0
    checkpoint_every: int | None = None
    progress: bool = True


def build_setting(args: LPOArgs) -> LPOSetting:
    """The named setting with the command line's overrides, validated."""
    base = SETTINGS[args.setting]
    inner = {k: getattr(args, k) for k in ("total_timesteps", "num_envs")}
    es = {k: getattr(args, k) for k in ("num_generations", "population_size", "checkpoint_every")}
    setting = dataclasses.replace(
        base,
        inner=base.inner.replace(**{k: v for k, v in inner.items() if v is not None}),
        es=dataclasses.replace(
            base.es, seed=args.seed, **{k: v for k, v in es.items() if v is not None}
        ),
        num_seeds=args.num_seeds or base.num_seeds,
        ppo_init=args.ppo_init,
    )
    return setting.validate()


def summarize(setting: LPOSetting, fitness: np.ndarray, seconds: np.ndarray) -> dict:
    curve = np.nanmean(fitness, axis=1)
    per_generation = float(np.median(seconds))
    return {
        "env": setting.inner.env,
        "population_size": setting.es.population_size,
        "num_generations": len(curve),
        "inner_seeds": setting.num_seeds,
        "inner_timesteps": setting.inner.num_updates * setting.inner.batch_size,
        "ppo_init": setting.ppo_init,
        "fitness_mean": curve.tolist(),
        "fitness_max": np.nanmax(fitness, axis=1).tolist(),
        "first_generation": float(curve[0]),
        "last10_mean": float(curve[-10:].mean()),
        "seconds_per_generation": per_generation,
        "inner_steps_per_second": setting.env_steps_per_generation / per_generation,
    }


def main() -> int:
    args = tyro.cli(LPOArgs)
    try:
        setting = build_setting(args)
    except ValueError as error:
        fail(str(error))
    out = Path(args.out)
    result = meta_train(setting, out, args.progress)
    summary = summarize(setting, result.fitness, result.seconds)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"LPO on {summary['env']}: {summary['num_generations']} generations x "
        f"{summary['population_size']} members x {summary['inner_seeds']} seeds\n"
        f"  fitness: first generation {summary['first_generation']:.1f}, "
        f"last 10 generations {summary['last10_mean']:.1f}\n"
        f"  {summary['seconds_per_generation']:.1f} s/generation, "
        f"{summary['inner_steps_per_second']:,.0f} inner env steps/s "
        f"(compile {result.compile_seconds:.1f} s)\n"
        f"  learned drift: {out / 'mean.npz'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
