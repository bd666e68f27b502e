"""One experiment: a batch of seeds trained, evaluated and written to a run directory
(:mod:`jaxopt_lab.rundir`, kind ``rl``: ``config.json``, ``metrics.parquet`` with one row per
seed per update, ``summary.json`` and ``checkpoints/``, orbax, the vmapped runner state)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jaxopt_lab.analysis import summarize_returns
from jaxopt_lab.checkpoint import checkpoint_manager, save_state
from jaxopt_lab.launch.population import SeedBatch
from jaxopt_lab.rl import TrainConfig
from jaxopt_lab.rundir import CHECKPOINTS, METRICS, check_out_dir, run_directory


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.algo.name}-{config.env.replace('/', '_')}-{stamp}"


def metrics_frame(metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long format: one row per seed per update."""
    num_seeds, num_updates = metrics["update"].shape
    columns = {"seed": np.repeat(np.arange(num_seeds), num_updates)}
    for name, values in metrics.items():
        columns[name] = values.reshape(-1)
    first = ["seed", "update", "env_steps", "episode_return"]
    return pd.DataFrame(columns)[[*first, *sorted(set(metrics) - set(first))]]


def validate_experiment(
    num_seeds: int, out: str | os.PathLike | None, config: TrainConfig, checkpoint_every: int = 1
) -> Path:
    """Check the experiment's own inputs (the config checked itself when it was built);
    returns its run directory (not created)."""
    if num_seeds < 1:
        raise ValueError(f"num_seeds: got {num_seeds}; must be >= 1")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: got {checkpoint_every}; must be >= 1")
    return check_out_dir(out if out is not None else default_run_dir(config))


def run_experiment(
    config: TrainConfig,
    num_seeds: int = 8,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint_every: int = 5,
) -> dict[str, Any]:
    """Train ``num_seeds`` seeds of ``config`` in one vmapped program and write the run dir.

    Everything that can be wrong with the input raises ``ValueError`` before compilation and
    before the run directory is created. Returns the summary (also in ``summary.json``),
    whose ``status`` is ``"ok"``, ``"nonfinite"`` (a loss or return was NaN/inf) or, re-raising
    the error, ``"crashed"``.
    """
    path = validate_experiment(num_seeds, out, config, checkpoint_every)
    batch = SeedBatch(config, num_seeds, seed)
    record = {"num_seeds": num_seeds, "seed": seed, "updates_per_chunk": batch.chunk}
    with run_directory(path, "rl", config.to_dict(), **record) as summary:
        summary.update(
            algo=config.algo.name,
            env=config.env,
            num_seeds=num_seeds,
            total_timesteps=config.num_updates * config.batch_size,
        )
        summary["compile_seconds"] = batch.compile()
        state, metrics, train_seconds = train_with_checkpoints(
            batch, path / CHECKPOINTS, progress, checkpoint_every
        )
        final_return, eval_seconds = batch.evaluate(state)
        metrics_frame(metrics).to_parquet(path / METRICS, index=False)
        summary.update(
            final_return=final_return.tolist(),
            train_seconds=train_seconds,
            eval_seconds=eval_seconds,
            steps_per_second=num_seeds * summary["total_timesteps"] / train_seconds,
        )
        summary.update(judge(metrics["nonfinite"].any(axis=1), final_return))
    return {**summary, "run_dir": str(path)}


def train_with_checkpoints(
    batch: SeedBatch, directory: Path, progress: bool, checkpoint_every: int
) -> tuple[Any, dict[str, np.ndarray], float]:
    """Run the batch chunk by chunk with a progress bar, checkpointing every
    ``checkpoint_every`` chunks and at the end."""
    manager = checkpoint_manager(directory)
    num_updates = batch.config.num_updates
    bar = tqdm(total=num_updates, unit="update", disable=not progress, leave=False)

    def on_chunk(state, done: int, metrics: dict[str, np.ndarray]) -> None:
        bar.update(batch.chunk)
        recent = metrics["episode_return"][:, -1]
        if np.isfinite(recent).any():
            bar.set_postfix(episode_return=f"{np.nanmean(recent):.1f}")
        if (done // batch.chunk) % checkpoint_every == 0 or done == num_updates:
            save_state(manager, done, state)

    state, metrics, seconds = batch.run(on_chunk)
    bar.close()
    manager.wait_until_finished()
    return state, metrics, seconds


def judge(nonfinite_loss: np.ndarray, final_return: np.ndarray) -> dict[str, Any]:
    """``status`` and the statistics of a batch: ``nonfinite`` (no IQM) if any seed's loss or
    final return was NaN or infinite, else ``ok`` with the IQM and its 95% bootstrap CI."""
    bad = np.flatnonzero(nonfinite_loss | ~np.isfinite(final_return)).tolist()
    if bad:
        return {"status": "nonfinite", "nonfinite_seeds": bad}
    return {"status": "ok", **summarize_returns(final_return)}


def format_summary(summary: dict[str, Any]) -> str:
    """The final table printed on the terminal."""
    lines = [
        f"{summary['algo']} on {summary['env']}: {summary['num_seeds']} seeds x "
        f"{summary['total_timesteps']:,} env steps  [{summary['status']}]"
    ]
    if "final_return" in summary:
        lines.append("  seed  final_return")
        lines += [f"  {i:>4}  {r:12.2f}" for i, r in enumerate(summary["final_return"])]
    if summary["status"] == "ok":
        lines.append(
            f"  IQM final return {summary['iqm']:.2f}  "
            f"(95% CI {summary['ci_low']:.2f} .. {summary['ci_high']:.2f})"
        )
    elif summary["status"] == "nonfinite":
        lines.append(
            f"  NOT A RESULT: non-finite loss or return in seeds {summary['nonfinite_seeds']}"
        )
    else:
        lines.append(f"  {summary['status'].upper()}: {summary.get('error', '')}")
    if "train_seconds" in summary:
        lines.append(
            f"  compile {summary['compile_seconds']:.1f} s, "
            f"train {summary['train_seconds']:.1f} s, "
            f"{summary['steps_per_second']:,.0f} env steps/s (all seeds)"
        )
    return "\n".join(lines)
