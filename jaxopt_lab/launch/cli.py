"""Command-line parsing shared by the ``experiments/`` scripts (tyro over the config)."""

from __future__ import annotations

import argparse
import ast
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


def parse_overrides(pairs: Sequence[str]) -> dict[str, object]:
    """``FIELD=VALUE`` pairs as ``TrainConfig`` overrides; values are Python literals.

    ``learning_rate=1e-2``, ``hidden_sizes=(256,256)``, ``anneal_lr=False``; a bare word is a
    string (``activation=relu``). An integer field takes an integral float (``1e6``). Raises
    ``ValueError`` naming the field for an unknown field or a value of the wrong type.
    """
    defaults = {f.name: getattr(TrainConfig, f.name) for f in dataclasses.fields(TrainConfig)}
    allowed = sorted(set(defaults) - {"env", "algo"})
    overrides: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in allowed:
            raise ValueError(
                f"override: expected FIELD=VALUE, got {pair!r}; fields: {', '.join(allowed)}"
            )
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        default = defaults[name]
        if type(default) is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif type(default) is float and type(value) is int:
            value = float(value)
        if default is not None and type(value) is not type(default):
            expected = type(default).__name__
            raise ValueError(f"{name}: expected {expected}, got {text!r}")
        overrides[name] = value
    return overrides


def fail(message: str) -> None:
    """One clear error line on stderr and exit code 2 (the usage-error convention)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
