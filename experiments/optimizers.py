"""Learning-rate x seed sweep of every optimizer on a synthetic regression and on PPO CartPole.

python experiments/optimizers.py                          # CPU default: a few minutes
python experiments/optimizers.py --num-seeds 8 --ppo-timesteps 200000 --out runs/opt8

Each optimizer's learning rates are ``lr_factors`` times its default (Adam's rate times
``jaxopt_lab.rl.optimizers.LR_SCALE``); all (learning rate, seed) pairs of one optimizer train
in one vmapped program. Writes under ``--out``: ``regression/`` (``results.parquet`` and
``.csv``, ``curves.parquet``, ``summary.json``), ``ppo/<optimizer>/`` run directories
(``config.json``, ``metrics.parquet``, ``summary.json``) and ``ppo/results.*``, the tables
``table.md`` (IQM over seeds with 95% bootstrap CIs) and the figure ``optimizers.png``
(final value vs learning rate, one curve per optimizer, band over seeds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jax
import numpy as np
import pandas as pd
import tyro
from matplotlib import pyplot as plt

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.analysis.sweeps import plot_sweep, sweep_table
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.fields import at_least, check_choice, positive, rng_seed
from jaxopt_lab.launch.experiment import Experiment, run_experiment
from jaxopt_lab.launch.lr_sweep import make_regression_task, regression_sweep
from jaxopt_lab.rl import TrainConfig, config_for
from jaxopt_lab.rl.optimizers import LR_SCALE, OPTIMIZER_STEPS
from jaxopt_lab.rundir import check_out_dir, run_directory

OPTIMIZERS = tuple(OPTIMIZER_STEPS)

PROBLEMS = ("regression", "ppo")


@dataclass(frozen=True)
class SweepArgs:
    out: str = "runs/optimizers"
    """Output directory (refused if it already holds a finished sweep)."""
    optimizers: Annotated[
        tuple[str, ...], tyro.conf.arg(help=f"Optimizers to sweep, any of {', '.join(OPTIMIZERS)}.")
    ] = tuple(o for o in OPTIMIZERS if o != "rmsprop")
    lr_factors: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    """Learning rates, as multiples of each optimizer's default."""
    num_seeds: int = 4
    """Seeds per (optimizer, learning rate)."""
    seed: int = 0
    """Experiment seed (the regression task's and every run's keys derive from it)."""
    problems: tuple[str, ...] = PROBLEMS
    """Problems to sweep: regression (a teacher-student MLP) and ppo (CartPole-v1)."""
    regression_lr: float = 3e-3
    """Adam's default learning rate on the regression (others: times LR_SCALE)."""
    regression_steps: int = 1000
    """Optimizer steps per regression run."""
    regression_log_every: int = 50
    """Steps between points of the regression's loss curves (a divisor of the steps)."""
    ppo_timesteps: int = 50_000
    """Environment steps per PPO run (CartPole-v1, the canonical preset otherwise)."""

    def validate(self) -> SweepArgs:
        for name in self.optimizers:
            check_choice("optimizers", name, OPTIMIZERS)
        for name in self.problems:
            check_choice("problems", name, PROBLEMS)
        if not self.optimizers or not self.problems or not self.lr_factors:
            raise ValueError("optimizers, problems and lr_factors need at least one value each")
        positive("lr_factors", np.asarray(self.lr_factors))
        for name in ("num_seeds", "regression_steps", "regression_log_every", "ppo_timesteps"):
            at_least(1)(name, getattr(self, name))
        rng_seed("seed", self.seed)
        rng_seed("seed", self.seed + 1)  # the regression task's
        positive("regression_lr", self.regression_lr)
        for name in self.optimizers:  # the learning rates themselves, as float32 (or inf)
            lrs = self.regression_lr * LR_SCALE[name] * np.asarray(self.lr_factors)
            positive("lr_factors", np.where(lrs > np.finfo(np.float32).max, np.inf, lrs))
        if self.regression_steps % self.regression_log_every:
            raise ValueError(
                f"regression_log_every: {self.regression_log_every} does not divide "
                f"regression_steps {self.regression_steps}"
            )
        if "ppo" in self.problems:
            self.ppo_config("adam")  # ValueError for a bad budget
        return self

    def ppo_config(self, optimizer: str) -> TrainConfig:
        return config_for(
            "CartPole-v1", "ppo", optimizer=optimizer, total_timesteps=self.ppo_timesteps
        )


def _long(values: np.ndarray, optimizer: str, lrs: np.ndarray, args: SweepArgs, column: str):
    """``values[lr, seed]`` as rows ``optimizer, learning_rate, lr_factor, seed, column``."""
    num_lrs, num_seeds = values.shape
    return pd.DataFrame(
        {
            "optimizer": optimizer,
            "learning_rate": np.repeat(lrs, num_seeds),
            "lr_factor": np.repeat(args.lr_factors, num_seeds),
            "seed": np.tile(np.arange(num_seeds), num_lrs),
            column: values.reshape(-1),
        }
    )


def run_regression(args: SweepArgs, out: Path) -> pd.DataFrame:
    """The regression sweep in its own run directory (kind ``regression_sweep``)."""
    with run_directory(out, "regression_sweep", dataclasses.asdict(args)) as summary:
        results = sweep_regression(args, out)
        summary["table"] = sweep_table(results, "final_loss").to_dict("records")
        if not np.isfinite(results["final_loss"]).all():
            summary["status"] = "nonfinite"
    return results


def sweep_regression(args: SweepArgs, out: Path) -> pd.DataFrame:
    task = make_regression_task(jax.random.key(args.seed + 1))
    frames, curves = [], []
    for name in args.optimizers:
        lrs = args.regression_lr * LR_SCALE[name] * np.asarray(args.lr_factors)
        start = time.perf_counter()
        sweep = regression_sweep(
            OPTIMIZER_STEPS[name],
            task,
            lrs,
            args.num_seeds,
            args.seed,
            steps=args.regression_steps,
            log_every=args.regression_log_every,
        )
        print(f"  regression  {name:15s} {time.perf_counter() - start:6.1f} s", flush=True)
        frame = _long(sweep.final_loss, name, lrs, args, "final_loss")
        frames.append(frame)
        steps = len(sweep.curve_steps)
        curve = frame.loc[frame.index.repeat(steps), ["optimizer", "learning_rate", "seed"]]
        curves.append(
            curve.assign(step=np.tile(sweep.curve_steps, len(frame)), loss=sweep.curve.reshape(-1))
        )
    results = pd.concat(frames, ignore_index=True)
    results.to_parquet(out / "results.parquet", index=False)
    results.to_csv(out / "results.csv", index=False)
    pd.concat(curves, ignore_index=True).to_parquet(out / "curves.parquet", index=False)
    return results


def run_ppo(args: SweepArgs, out: Path) -> pd.DataFrame:
    """Each optimizer's learning rates x seeds: a sweep run directory (``--sweep
    learning_rate=...`` of ``experiments/train.py``), one compiled program."""
    frames = []
    for name in args.optimizers:
        config = args.ppo_config(name)
        lrs = config.learning_rate * np.asarray(args.lr_factors)
        sweep = ("learning_rate=" + ",".join(repr(float(lr)) for lr in lrs),)
        start = time.perf_counter()
        experiment = Experiment(config, args.num_seeds, args.seed, sweep)
        summary = run_experiment(experiment, out / name, progress=False)
        print(f"  ppo         {name:15s} {time.perf_counter() - start:6.1f} s", flush=True)
        final = np.asarray([member["final_return"] for member in summary["members"]])
        frames.append(_long(final, name, lrs, args, "final_return"))
    results = pd.concat(frames, ignore_index=True)
    results.to_parquet(out / "results.parquet", index=False)
    results.to_csv(out / "results.csv", index=False)
    return results


def markdown_table(results: pd.DataFrame, value: str, digits: int) -> str:
    """Rows: optimizers; columns: learning rates as multiples of each optimizer's default."""
    table = sweep_table(results, value, by=("optimizer", "lr_factor"))
    defaults = results[results["lr_factor"] == 1.0].groupby("optimizer")["learning_rate"].first()
    factors = sorted(table["lr_factor"].unique())
    lines = [
        "| optimizer | default lr | " + " | ".join(f"x{f:g}" for f in factors) + " |",
        "|---|---|" + "---|" * len(factors),
    ]
    for name in results["optimizer"].unique():
        cells = []
        for f in factors:
            row = table[(table["optimizer"] == name) & (table["lr_factor"] == f)].iloc[0]
            if row["nonfinite"]:
                cells.append(f"diverged ({row['nonfinite']}/{row['seeds']})")
            else:
                cells.append(
                    f"{row['iqm']:.{digits}f} [{row['ci_low']:.{digits}f}, "
                    f"{row['ci_high']:.{digits}f}]"
                )
        lr = defaults.get(name, np.nan)
        lines.append(f"| {name} | {lr:.2g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(SweepArgs, argv).validate()
        out = check_out_dir(args.out)
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    plt.switch_backend("Agg")
    with run_directory(out, "optimizer_sweep", dataclasses.asdict(args)) as summary:
        sections, panels = run_problems(args, out)
        text = "\n\n".join(sections)
        (out / "table.md").write_text(text + "\n")
        print(text)
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2))
        for ax, (results, value, title) in zip(np.atleast_1d(axes), panels, strict=True):
            plot_sweep(results, value, ax=ax)
            ax.set_title(title)
            if value == "final_loss":
                ax.set_yscale("log")
        fig.tight_layout()
        fig.savefig(out / "optimizers.png", dpi=120)
        summary["sections"] = sections
    print(f"results: {out}")
    return 0


def run_problems(args: SweepArgs, out: Path) -> tuple[list[str], list[tuple]]:
    """Each problem's sweep: its Markdown table and its figure panel."""
    sections, panels = [], []
    if "regression" in args.problems:
        results = run_regression(args, out / "regression")
        table = markdown_table(results, "final_loss", 4)
        sections.append(
            f"Regression (teacher-student MLP, {args.regression_steps} steps): final test MSE, "
            f"IQM over {args.num_seeds} seeds [95% bootstrap CI]\n\n{table}"
        )
        panels.append((results, "final_loss", "regression: test MSE after training"))
    if "ppo" in args.problems:
        results = run_ppo(args, out / "ppo")
        table = markdown_table(results, "final_return", 1)
        sections.append(
            f"PPO on CartPole-v1 ({args.ppo_timesteps:,} env steps): final return, "
            f"IQM over {args.num_seeds} seeds [95% bootstrap CI]\n\n{table}"
        )
        panels.append((results, "final_return", "PPO CartPole-v1: final return"))
    return sections, panels


if __name__ == "__main__":
    raise SystemExit(main())
