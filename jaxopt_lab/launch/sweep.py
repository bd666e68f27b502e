"""Sweeps: a population of configurations that differ only in traced settings.

``--sweep FIELD=V1,V2,...`` (repeatable) names a traced setting: a shared one
(``learning_rate``), one of the algorithm's (``max_kl``) or an environment parameter
(``env_params.length``). Values are Python literals separated by commas, or a range:
``log:1e-4:1e-2:8`` (8 values evenly spaced in log space) or ``lin:0.9:0.99:4``. The points
are the grid of all fields' values (``mode="grid"``, the first field varying slowest) or their
pairing (``mode="zip"``, equal lengths). Each point is resolved into a full config and checked
like any config; the population stacks their traced leaves, so one compiled program trains
every point (member) x seed.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.fields import is_traced
from jaxopt_lab.rl import TrainConfig
from jaxopt_lab.rl.config import make_env_params, settable_env_params

SWEEP_MODES = ("grid", "zip")
ENV_PREFIX = "env_params."


def parse_values(text: str) -> list[Any]:
    """``"1e-3,3e-3"``, ``"log:1e-4:1e-2:8"`` or ``"lin:0.9:0.99:4"`` as a list of values."""
    kind, _, spec = text.partition(":")
    if kind in ("log", "lin") and spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ValueError(f"sweep: {text!r}: a range is {kind}:START:STOP:COUNT")
        start, stop, count = _number(parts[0]), _number(parts[1]), _number(parts[2])
        if not float(count).is_integer() or count < 1:
            raise ValueError(f"sweep: {text!r}: COUNT must be a whole number >= 1")
        if kind == "log" and not (start > 0 and stop > 0):
            raise ValueError(f"sweep: {text!r}: a log range needs START and STOP > 0")
        space = np.geomspace if kind == "log" else np.linspace
        return [float(f"{v:.6g}") for v in space(start, stop, int(count))]
    values = [parse_literal(part) for part in text.split(",")]
    if not values or any(v == "" for v in values):
        raise ValueError(f"sweep: {text!r}: give values V1,V2,... or a range log:A:B:N")
    return values


def _number(text: str) -> float:
    value = parse_literal(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"sweep: {text!r} is not a number")
    return float(value)


def parse_literal(text: str) -> Any:
    """A Python literal, or ``nan``/``inf`` as a float (for the setting's check to refuse),
    else the text itself."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_sweep(pairs: Sequence[str], mode: str = "grid") -> list[dict[str, Any]]:
    """``FIELD=VALUES`` pairs as the list of points (``{field: value}``); one empty point
    when there are none (a population of one member)."""
    if mode not in SWEEP_MODES:
        raise ValueError(f"sweep_mode: unknown value {mode!r}; allowed: {', '.join(SWEEP_MODES)}")
    fields: dict[str, list[Any]] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"sweep: expected FIELD=V1,V2,..., got {pair!r}")
        if name in fields:
            raise ValueError(f"sweep: {name} is swept twice")
        fields[name] = parse_values(text)
    if not fields:
        return [{}]
    if mode == "zip":
        lengths = {name: len(values) for name, values in fields.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"sweep: zip mode needs equally many values per field; got {lengths}")
        combos = zip(*fields.values(), strict=True)
    else:
        combos = itertools.product(*fields.values())
    return [dict(zip(fields, combo, strict=True)) for combo in combos]


def traced_settings(config: TrainConfig) -> list[str]:
    """Every name ``--sweep`` accepts for ``config``."""
    shared = [f.name for f in dataclasses.fields(config) if is_traced(f)]
    own = [f.name for f in dataclasses.fields(config.algo) if is_traced(f) and f.metadata["cli"]]
    env = [ENV_PREFIX + name for name in settable_env_params(config.env)]
    return [n for n in shared if n not in ("algo", "env_params")] + own + env


def apply_point(config: TrainConfig, point: dict[str, Any]) -> TrainConfig:
    """``config`` with the point's values (each checked like a setting)."""
    allowed = traced_settings(config)
    shared, own, env = {}, {}, {}
    algo_fields = {f.name for f in dataclasses.fields(config.algo)}
    for name, value in point.items():
        if name not in allowed:
            raise ValueError(
                f"sweep: {name} is not a traced setting of algo {config.algo.name} on "
                f"{config.env} (static settings change the compiled program); sweepable: "
                f"{', '.join(allowed)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"sweep: {name}: {value!r} is not a number")
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :]
            env[key] = _like(value, getattr(config.env_params, key))
        elif name in algo_fields:
            own[name] = _like(value, getattr(config.algo, name))
        else:
            shared[name] = _like(value, getattr(config, name))
    if env:
        current = {k: getattr(config.env_params, k) for k in settable_env_params(config.env)}
        shared["env_params"] = make_env_params(config.env, {**current, **env})
    return config.replace(algo=config.algo.replace(**own), **shared)


def _like(value: Any, current: Any) -> Any:
    """An integer value for a float setting as a float (``1`` for a learning rate)."""
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def stack_members(configs: Sequence[TrainConfig]) -> TrainConfig:
    """The members' traced leaves stacked on a leading member axis (hyperparameters)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *(c.hparams() for c in configs))
