"""One experiment: a batch of seeds trained, evaluated and written to a run directory.

Run directory (DESIGN.md): ``config.json``, ``metrics.parquet`` (one row per seed per update),
``summary.json`` and ``checkpoints/`` (orbax, the vmapped runner state).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from jaxopt_lab.analysis import summarize_returns
from jaxopt_lab.experiment.batch import SeedBatch
from jaxopt_lab.experiment.checkpoint import checkpoint_manager, save_state
from jaxopt_lab.rl.config import TrainConfig

PACKAGES = (
    "jaxopt_lab",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "chex",
    "gymnax",
    "brax",
    "orbax-checkpoint",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.algo}-{config.env.replace('/', '_')}-{stamp}"


def check_run_dir(out: str | os.PathLike) -> Path:
    """Refuse an ``--out`` that cannot be written or already holds a finished run."""
    path = Path(out)
    if (path / "summary.json").exists():
        raise ValueError(f"out: {path} already holds a finished run; choose another directory")
    if path.exists() and not path.is_dir():
        raise ValueError(f"out: {path} exists and is not a directory")
    parent = path
    while not parent.exists():
        parent = parent.parent
    try:  # a real probe: permission bits do not tell for root or for special file systems
        os.rmdir(tempfile.mkdtemp(dir=parent, prefix=".jaxopt_lab-probe-"))
    except OSError as error:
        raise ValueError(
            f"out: {path} is not writable ({parent} does not accept new files: {error.strerror})"
        ) from None
    return path


def metrics_frame(metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long format: one row per seed per update."""
    num_seeds, num_updates = metrics["update"].shape
    columns = {"seed": np.repeat(np.arange(num_seeds), num_updates)}
    for name, values in metrics.items():
        columns[name] = values.reshape(-1)
    frame = pd.DataFrame(columns)
    return frame[
        [
            "seed",
            "update",
            "env_steps",
            "episode_return",
            *sorted(set(metrics) - {"update", "env_steps", "episode_return"}),
        ]
    ]


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


@contextmanager
def recorded_summary(path: Path, summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Write ``summary`` to ``path/summary.json`` however the block ends.

    An exception is recorded under ``error`` (the status stays what the block last set,
    ``"crashed"`` unless it set another) and re-raised: a crashed run is never a result. On
    success ``run_dir`` is added to the returned dict (not to the file).
    """
    try:
        yield summary
    except Exception as error:
        summary["error"] = "".join(traceback.format_exception_only(error)).strip()
        write_json(path / "summary.json", summary)
        raise
    write_json(path / "summary.json", summary)
    summary["run_dir"] = str(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def validate_experiment(
    config: TrainConfig,
    num_seeds: int,
    out: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
) -> Path:
    """Check everything about an experiment's input; returns its run directory (not created)."""
    config.validate()
    if config.algo == "lpo" and config.drift is None:
        raise ValueError(
            "drift: algo lpo needs --drift PATH, a learned drift file "
            "(e.g. mean.npz written by experiments/lpo_meta.py)"
        )
    if num_seeds < 1:
        raise ValueError(f"num_seeds: got {num_seeds}; must be >= 1")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: got {checkpoint_every}; must be >= 1")
    return check_run_dir(out if out is not None else default_run_dir(config))


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
    whose ``status`` is ``"ok"``, ``"nonfinite"`` (a loss or return was NaN/inf) or
    ``"crashed"``.
    """
    path = validate_experiment(config, num_seeds, out, checkpoint_every)
    batch = SeedBatch(config, num_seeds, seed)

    path.mkdir(parents=True, exist_ok=True)
    write_json(
        path / "config.json",
        {
            "config": dataclasses.asdict(config),
            "num_seeds": num_seeds,
            "seed": seed,
            "updates_per_chunk": batch.chunk,
            "argv": sys.argv,
            "versions": package_versions(),
        },
    )
    summary: dict[str, Any] = {
        "algo": config.algo,
        "env": config.env,
        "num_seeds": num_seeds,
        "total_timesteps": config.num_updates * config.batch_size,
        "status": "crashed",
    }
    with recorded_summary(path, summary):
        summary["compile_seconds"] = batch.compile()
        manager = checkpoint_manager(path / "checkpoints")
        bar = tqdm(total=config.num_updates, unit="update", disable=not progress, leave=False)

        def on_chunk(state, done: int, metrics: dict[str, np.ndarray]) -> None:
            bar.update(batch.chunk)
            recent = metrics["episode_return"][:, -1]
            if np.isfinite(recent).any():
                bar.set_postfix(episode_return=f"{np.nanmean(recent):.1f}")
            if (done // batch.chunk) % checkpoint_every == 0 or done == config.num_updates:
                save_state(manager, done, state)

        state, metrics, train_seconds = batch.run(on_chunk)
        bar.close()
        manager.wait_until_finished()
        final_return, eval_seconds = batch.evaluate(state)
        metrics_frame(metrics).to_parquet(path / "metrics.parquet", index=False)
        summary.update(
            final_return=final_return.tolist(),
            train_seconds=train_seconds,
            eval_seconds=eval_seconds,
            steps_per_second=num_seeds * summary["total_timesteps"] / train_seconds,
        )
        nonfinite_seeds = np.flatnonzero(
            metrics["nonfinite"].any(axis=1) | ~np.isfinite(final_return)
        ).tolist()
        if nonfinite_seeds:
            summary.update(status="nonfinite", nonfinite_seeds=nonfinite_seeds)
        else:
            summary.update(status="ok", **summarize_returns(final_return))
    return summary


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
        lines.append(f"  CRASHED: {summary.get('error', '')}")
    if "train_seconds" in summary:
        lines.append(
            f"  compile {summary['compile_seconds']:.1f} s, "
            f"train {summary['train_seconds']:.1f} s, "
            f"{summary['steps_per_second']:,.0f} env steps/s (all seeds)"
        )
    return "\n".join(lines)
