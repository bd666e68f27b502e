"""Live views of a long run: TensorBoard event files or a Weights & Biases run, written between
compiled chunks (the metrics of every update, averaged over each member's seeds).

``--log tensorboard`` writes one event-file directory per population member under
``<run dir>/tensorboard/member-<k>`` (TensorBoard shows each member as a run, the scalars under
the same tags: episode return, losses, entropy, KL, ...), plus ``steps_per_second`` per chunk;
``tensorboard --logdir <run dir>/tensorboard``. ``--log wandb`` (``pip install -e .[wandb]``)
logs one W&B run with the tags prefixed by ``member<k>/``; it runs offline unless
``WANDB_MODE`` says otherwise (``wandb sync`` uploads it later).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

LOGGERS = ("none", "tensorboard", "wandb")
SKIP = ("update", "env_steps", "nonfinite")


class MetricLogger(Protocol):
    def log(self, metrics: dict[str, np.ndarray], runs: Sequence[int], rate: float) -> None:
        """``metrics[name]``: ``[len(runs), updates]`` of the runs just trained, at ``rate``
        env steps per second (all of them)."""

    def close(self) -> None: ...


def member_means(
    metrics: dict[str, np.ndarray], runs: Sequence[int], num_seeds: int
) -> dict[int, dict[str, np.ndarray]]:
    """Per member present in ``runs``: each metric averaged over its seeds (NaN ignored)."""
    members = np.asarray(runs) // num_seeds
    means = {}
    for member in np.unique(members):
        rows = members == member
        with warnings.catch_warnings():  # an update with no finished episode: NaN, no warning
            warnings.simplefilter("ignore", RuntimeWarning)
            means[int(member)] = {
                name: np.nanmean(values[rows].astype(float), axis=0)
                for name, values in metrics.items()
                if name not in SKIP
            }
        means[int(member)]["env_steps"] = metrics["env_steps"][rows][0]
    return means


class TensorBoardLogger:
    """tensorboardX writers, one per member."""

    def __init__(self, directory: Path, num_seeds: int):
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter
        self.directory, self.num_seeds = directory, num_seeds
        self.writers: dict[int, Any] = {}

    def log(self, metrics: dict[str, np.ndarray], runs: Sequence[int], rate: float) -> None:
        for member, means in member_means(metrics, runs, self.num_seeds).items():
            if member not in self.writers:
                self.writers[member] = self._writer(str(self.directory / f"member-{member}"))
            writer, steps = self.writers[member], means.pop("env_steps")
            for name, values in means.items():
                for step, value in zip(steps, values, strict=True):
                    if np.isfinite(value):
                        writer.add_scalar(name, float(value), int(step))
            writer.add_scalar("steps_per_second", rate, int(steps[-1]))
            writer.flush()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


class WandbLogger:
    """One W&B run (offline unless ``WANDB_MODE`` is set), tags ``member<k>/<metric>``."""

    def __init__(self, directory: Path, num_seeds: int, config: dict[str, Any], name: str):
        import wandb

        os.environ.setdefault("WANDB_MODE", "offline")
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project="jaxopt_lab", dir=str(directory), config=config, name=name)
        self.num_seeds = num_seeds

    def log(self, metrics: dict[str, np.ndarray], runs: Sequence[int], rate: float) -> None:
        for member, means in member_means(metrics, runs, self.num_seeds).items():
            steps = means.pop("env_steps")
            for index, step in enumerate(steps):
                row = {f"member{member}/{k}": float(v[index]) for k, v in means.items()}
                row = {k: v for k, v in row.items() if np.isfinite(v)}
                self.run.log({**row, "steps_per_second": rate}, step=int(step))

    def close(self) -> None:
        self.run.finish()


def make_logger(
    kind: str, path: Path, num_seeds: int, config: dict[str, Any], name: str
) -> MetricLogger | None:
    """The logger ``kind`` (``none``, ``tensorboard``, ``wandb``) writing under ``path``."""
    if kind == "tensorboard":
        return TensorBoardLogger(path / "tensorboard", num_seeds)
    if kind == "wandb":
        return WandbLogger(path / "wandb", num_seeds, config, name)
    return None


def check_logger(kind: str) -> None:
    """``ValueError`` for an unknown kind, or one whose package is not installed."""
    if kind not in LOGGERS:
        raise ValueError(f"log: unknown value {kind!r}; allowed: {', '.join(LOGGERS)}")
    package = {"tensorboard": "tensorboardX", "wandb": "wandb"}.get(kind)
    if package is None:
        return
    try:
        __import__(package)
    except ImportError:
        extra = " (pip install -e '.[wandb]')" if kind == "wandb" else ""
        raise ValueError(f"log: {kind} needs the package {package}{extra}") from None
