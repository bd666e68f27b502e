"""Command-line parsing shared by the ``experiments/`` scripts (tyro over the config)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import tyro

from jaxopt_lab.rl.config import ALGOS, OPTIMIZERS, TrainConfig, config_for


@dataclass(frozen=True)
class TrainArgs(TrainConfig):
    """Train ``num_seeds`` seeds in one vmapped program and write a run directory.

    Defaults of the training hyperparameters are the library's preset for ``--env``; with
    ``--optimizer`` and no ``--learning-rate``, the preset's learning rate rescaled to that
    optimizer (``jaxopt_lab.rl.optimizers.LR_SCALE``). An explicit ``--learning-rate`` wins.
    """

    num_seeds: int = 8
    """Seeds trained together in one vmapped program."""
    seed: int = 0
    """Experiment seed: every per-seed training and evaluation key derives from it."""
    out: str | None = None
    """Run directory (default: runs/<algo>-<env>-<time>)."""
    progress: bool = True
    """Show a progress bar during training."""
    checkpoint_every: int = 5
    """Write an orbax checkpoint every this many compiled chunks (and at the end)."""

    def train_config(self) -> TrainConfig:
        names = [f.name for f in dataclasses.fields(TrainConfig)]
        return TrainConfig(**{name: getattr(self, name) for name in names})


def parse_train_args(argv: Sequence[str] | None = None) -> TrainArgs:
    """Parse ``argv``; the per-environment preset fills the defaults of unspecified flags."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--env", default=TrainConfig.env)
    pre.add_argument("--algo", default=TrainConfig.algo)
    pre.add_argument("--optimizer")
    known, _ = pre.parse_known_args(argv)
    if _is_known_env(known.env) and known.algo in ALGOS:
        chosen = {"optimizer": known.optimizer} if known.optimizer in OPTIMIZERS else {}
        preset = config_for(known.env, known.algo, **chosen)
    else:  # validation reports the unknown name before anything runs
        preset = TrainConfig(env=known.env, algo=known.algo)
    default = TrainArgs(**dataclasses.asdict(preset))
    return tyro.cli(TrainArgs, args=argv, default=default)


def _is_known_env(env: str) -> bool:
    try:
        TrainConfig(env=env).validate()
    except ValueError as error:
        return not str(error).startswith("env:")
    return True


def fail(message: str) -> None:
    """One clear error line on stderr and exit code 2 (the usage-error convention)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
