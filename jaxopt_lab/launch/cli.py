"""Command-line parsing shared by the ``experiments/`` scripts.

``experiments/train.py``'s flags are generated from the field declarations: every shared
setting of :class:`~jaxopt_lab.rl.TrainConfig` and every setting of the chosen ``--algo``, each
with its help text, its default from the presets of ``--env`` and ``--algo`` (and the
learning-rate scale of ``--optimizer``), and ``--env-param NAME=VALUE`` for the environment's
parameters. The parsed values go through :func:`~jaxopt_lab.rl.config_for` like every other
entry point, so a command line resolves exactly as the same overrides in Python.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import sys
import textwrap
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import tyro

from jaxopt_lab.console import parse
from jaxopt_lab.envs import available_envs
from jaxopt_lab.launch.sweep import parse_literal
from jaxopt_lab.rl import ALGORITHMS, Algorithm, TrainConfig, config_for
from jaxopt_lab.rl.config import algorithm_class

HIDDEN = ("env", "algo", "env_params")  # set by --env, --algo and --env-param


@dataclass(frozen=True)
class RunOptions:
    """How ``experiments/train.py`` runs and records the training (not part of the config)."""

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
    sweep: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """FIELD=V1,V2,... or FIELD=log:A:B:N (repeatable): sweep a traced setting (e.g.
    learning_rate, max_kl, env_params.length); points x seeds train in one program."""
    sweep_mode: str = "grid"
    """grid: every combination of the swept values; zip: pair them (equal lengths)."""
    log: str = "none"
    """none, tensorboard (event files under <out>/tensorboard, one run per sweep member) or
    wandb (offline unless WANDB_MODE says otherwise; pip install -e '.[wandb]')."""
    cpu_devices: int | None = None
    """XLA devices the host CPU exposes (default: its cores); a population is sharded over
    them, one stream of runs per core."""
    coordinator_address: str | None = None
    """HOST:PORT of process 0, to train one population over several processes (hosts)."""
    num_processes: int | None = None
    """How many processes train the population (with --coordinator-address)."""
    process_id: int | None = None
    """This process's index, 0 .. num_processes - 1 (process 0 writes the summary)."""


def cli_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are command-line flags."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]


def _annotated(cls: type, field: dataclasses.Field) -> Any:
    """The field's type with its help text, and the allowed values of a name."""
    hint = typing.get_type_hints(cls)[field.name]
    allowed = getattr(field.metadata.get("check"), "allowed", None)
    doc = field.metadata.get("doc") or ""
    if allowed is not None:
        doc += f" (one of {', '.join(allowed() if callable(allowed) else allowed)})"
    return Annotated[hint, tyro.conf.arg(help=doc or None)]


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of the dataclass ``cls`` (what tyro shows as help; a
    dataclass made from its fields loses them)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        text = getattr(after, "value", None)
        if isinstance(node, ast.AnnAssign) and isinstance(getattr(text, "value", None), str):
            docs[node.target.id] = inspect.cleandoc(text.value)
    return docs


def _args_class(algo: type[Algorithm], list_envs: bool) -> type:
    """A flat dataclass: --env, --algo, the shared settings, the algorithm's, --env-param and
    the run options (``list_envs``: name every environment in the help, which imports brax)."""
    envs = "one of " + ", ".join(available_envs()) if list_envs else "a gymnax id or brax/<name>"
    specs: list[tuple[str, Any, Any]] = [
        ("env", Annotated[str, tyro.conf.arg(help=f"environment: {envs}")], "CartPole-v1"),
        ("algo", Annotated[str, tyro.conf.arg(help="one of " + ", ".join(ALGORITHMS))], "ppo"),
    ]
    for cls in (TrainConfig, algo):
        specs += [
            (f.name, _annotated(cls, f), None) for f in cli_fields(cls) if f.name not in HIDDEN
        ]
    env_param = "environment parameter NAME=VALUE (repeatable), e.g. length=0.75 for CartPole"
    specs.append(("env_param", Annotated[tuple[str, ...], tyro.conf.arg(help=env_param)], ()))
    hints, docs = typing.get_type_hints(RunOptions, include_extras=True), field_docs(RunOptions)
    specs += [
        (f.name, Annotated[hints[f.name], tyro.conf.arg(help=docs[f.name])], f.default)
        for f in dataclasses.fields(RunOptions)
    ]
    fields = [(name, hint, dataclasses.field(default=default)) for name, hint, default in specs]
    return dataclasses.make_dataclass("TrainArgs", fields, frozen=True)


def parse_train_args(argv: Sequence[str] | None = None) -> tuple[TrainConfig, RunOptions]:
    """Parse ``argv`` into the resolved config and the run options; ``ValueError`` (naming
    the setting) for a bad value or name."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for flag in ("--env", "--algo", "--optimizer"):
        pre.add_argument(flag)
    try:
        known, _ = pre.parse_known_args(argv)
    except argparse.ArgumentError:  # a flag without its value: the full parse names it
        known = argparse.Namespace(env=None, algo=None, optimizer=None)
    env, algo = known.env or "CartPole-v1", known.algo or "ppo"
    chosen = {"optimizer": known.optimizer} if known.optimizer else {}
    preset = _preset_values(env, algo, chosen)
    algo_cls = ALGORITHMS.get(algo, ALGORITHMS["ppo"])
    args_cls = _args_class(algo_cls, list_envs=bool({"-h", "--help"} & set(argv)))
    defaults = {f.name: f.default for f in dataclasses.fields(args_cls)}
    defaults.update({k: v for k, v in preset.items() if k in defaults}, env=env, algo=algo)
    parsed = parse(args_cls, argv, default=args_cls(**defaults))
    names = [f.name for c in (TrainConfig, algo_cls) for f in cli_fields(c) if f.name not in HIDDEN]
    overrides = {n: getattr(parsed, n) for n in names if getattr(parsed, n) != preset.get(n)}
    config = config_for(
        env, algorithm_class(algo), env_params=parse_env_params(parsed.env_param), **overrides
    )
    options = RunOptions(
        **{f.name: getattr(parsed, f.name) for f in dataclasses.fields(RunOptions)}
    )
    return config, options


def _preset_values(env: str, algo: str, chosen: dict[str, Any]) -> dict[str, Any]:
    """The flags' defaults: the resolved preset, or the bare defaults when ``env`` or
    ``algo`` is unknown (the error is reported when the parsed flags are resolved)."""
    try:
        config = config_for(env, algo, **chosen)
    except ValueError:
        config = TrainConfig()
    algo_values = {f.name: getattr(config.algo, f.name) for f in dataclasses.fields(config.algo)}
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)}
    return {**shared, **algo_values}


def parse_env_params(pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (Python literals) as environment-parameter overrides."""
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"env_param: expected NAME=VALUE, got {pair!r}")
        params[name] = parse_literal(text)
        if isinstance(params[name], str):
            raise ValueError(f"env_param: {name}: {text!r} is not a number")
    return params


def setting_types(algos: Sequence[type[Algorithm]]) -> dict[str, Any]:
    """The default value (hence the type) of every setting a command line may override: the
    shared settings and those of ``algos``."""
    shared = {f.name: f.default for f in cli_fields(TrainConfig) if f.name not in HIDDEN}
    for algo in algos:
        shared.update({f.name: f.default for f in cli_fields(algo)})
    return shared


def parse_overrides(
    pairs: Sequence[str], algos: Sequence[type[Algorithm]] = ()
) -> dict[str, object]:
    """``FIELD=VALUE`` pairs as overrides of shared settings or of ``algos``' own; values are
    Python literals (``learning_rate=1e-2``, ``hidden_sizes=(256,256)``, ``anneal_lr=False``;
    a bare word is a string). An integer field takes an integral float (``1e6``). Raises
    ``ValueError`` naming the field for an unknown field or a value of the wrong type."""
    defaults = setting_types(algos)
    overrides: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in defaults:
            fields = ", ".join(sorted(defaults))
            raise ValueError(f"override: expected FIELD=VALUE, got {pair!r}; fields: {fields}")
        overrides[name] = _typed(name, text, defaults[name])
    return overrides


def _typed(name: str, text: str, default: Any) -> Any:
    value = parse_literal(text)
    if type(default) is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    elif type(default) is float and type(value) is int:
        value = float(value)
    if default is not None and type(value) is not type(default):
        raise ValueError(f"{name}: expected {type(default).__name__}, got {text!r}")
    return value
