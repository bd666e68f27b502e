"""One experiment: a population (sweep members x seeds) trained, evaluated and written to a run
directory (:mod:`jaxopt_lab.rundir`, kind ``rl``: ``config.json``, ``metrics.parquet`` with one
row per member, seed and update, ``summary.json`` and ``checkpoints/``, orbax, sharded).

An :class:`Experiment` is what defines the result; ``config.json`` records it, and rerunning
the same experiment into a directory that holds a killed run of it resumes from the latest
checkpoint, to a result bit-identical to an uninterrupted run's. Any other experiment there is
refused.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from jaxopt_lab.compile_cache import cache_hits
from jaxopt_lab.fields import at_least, rng_seed
from jaxopt_lab.launch.loggers import check_logger, make_logger
from jaxopt_lab.launch.memory import MemoryPlan, plan_memory
from jaxopt_lab.launch.population import Population
from jaxopt_lab.launch.progress import Results, train_population
from jaxopt_lab.launch.sweep import SWEEP_MODES, apply_point, parse_sweep
from jaxopt_lab.rl import TrainConfig
from jaxopt_lab.rundir import (
    CHECKPOINTS,
    CONFIG,
    METRICS,
    SUMMARY,
    check_out_dir,
    read_json_object,
    run_directory,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Experiment:
    """A config, its sweep (``FIELD=VALUES`` strings, grid or zip) and its seeds."""

    config: TrainConfig
    num_seeds: int = 8
    seed: int = 0
    sweep: tuple[str, ...] = ()
    sweep_mode: str = "grid"

    def __post_init__(self) -> None:
        at_least(1)("num_seeds", self.num_seeds)
        rng_seed("seed", self.seed)
        if self.sweep_mode not in SWEEP_MODES:
            raise ValueError(f"sweep_mode: unknown value {self.sweep_mode!r}; allowed: grid, zip")

    def points(self) -> list[dict[str, Any]]:
        return parse_sweep(self.sweep, self.sweep_mode)

    def members(self) -> list[TrainConfig]:
        """One config per sweep point (each checked like any config)."""
        return [apply_point(self.config, point) for point in self.points()]

    def record(self) -> dict[str, Any]:
        """``config.json``'s ``config``: what a resumed run must share (the device count
        too: a checkpoint's layout depends on it)."""
        return {
            **self.config.to_dict(),
            "num_seeds": self.num_seeds,
            "seed": self.seed,
            "sweep": list(self.sweep),
            "sweep_mode": self.sweep_mode,
            "device_count": jax.device_count(),
        }


def default_run_dir(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.algo.name}-{config.env.replace('/', '_')}-{stamp}"


def validate_experiment(
    experiment: Experiment, out: str | os.PathLike | None, checkpoint_every: int = 1
) -> Path:
    """Check everything about an experiment before it compiles: its members, whether its
    population fits in memory, the output directory (a killed run of the same experiment is
    resumable); returns the directory."""
    if isinstance(checkpoint_every, bool) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every: got {checkpoint_every}; must be >= 1")
    path = out if out is not None else default_run_dir(experiment.config)
    path = check_out_dir(path, config=experiment.record())
    experiment_plan(experiment, path)
    return path


def experiment_plan(
    experiment: Experiment, path: Path, devices: list[jax.Device] | None = None
) -> MemoryPlan:
    """The population's groups (:func:`plan_memory`); a run already in ``path`` (killed and
    resumed, or finished and re-evaluated) keeps the group size it recorded: its checkpoints
    hold such groups (a group size depends on the free memory, and results on the group
    size)."""
    devices = devices or jax.devices()
    num_runs = len(experiment.members()) * experiment.num_seeds
    cpu = devices[0].platform == "cpu"
    plan = plan_memory(experiment.config, num_runs, len(devices), cpu=cpu)
    recorded = recorded_group_size(path)
    return plan if recorded is None else plan.regrouped(recorded, len(devices))


def recorded_group_size(path: Path) -> int | None:
    """The ``runs_per_group`` of the run in ``path``: ``config.json`` records it when training
    starts, ``summary.json`` when it ends (runs older than the first record only there)."""
    for name in (CONFIG, SUMMARY):
        if (path / name).is_file():
            groups = read_json_object(path / name).get("groups", {})
            if "runs_per_group" in groups:
                return int(groups["runs_per_group"])
    return None


def run_experiment(
    experiment: Experiment | TrainConfig,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    checkpoint_every: int = 5,
    devices: list[jax.Device] | None = None,
    say: Say | None = None,
    log: str = "none",
    **settings: Any,
) -> dict[str, Any]:
    """Train the experiment's population in one sharded program (in groups if the memory asks
    for it) and write the run directory; returns the summary (also ``summary.json``).

    ``experiment`` may be a bare config with the :class:`Experiment` settings as keywords
    (``num_seeds``, ``seed``, ``sweep``, ``sweep_mode``). Bad input raises ``ValueError``
    before anything compiles or is written. The summary's ``status`` is ``ok``, or
    ``nonfinite`` (a member's loss or return was NaN/inf: no IQM for it); a crash re-raises.
    ``log`` (``none``, ``tensorboard``, ``wandb``) writes the metrics as training goes
    (:mod:`jaxopt_lab.launch.loggers`).
    """
    if isinstance(experiment, TrainConfig):
        experiment = Experiment(experiment, **settings)
    say = say or (lambda message: None)
    check_logger(log)
    path = validate_experiment(experiment, out, checkpoint_every)
    population = Population(
        experiment.config,
        experiment.num_seeds,
        experiment.seed,
        experiment.members(),
        None,
        devices,
        experiment_plan(experiment, path, devices),
    )
    say(population.memory.describe())
    groups = {"count": len(population.groups), "runs_per_group": population.group_size}
    record = {"devices": device_record(population), "groups": groups}
    with run_directory(path, "rl", experiment.record(), **record) as summary:
        summary.update({**header(experiment, population), **record})
        say(
            f"compiling {population.group_size} runs per program on {record['devices']['count']}"
            " device(s) ..."
        )
        hits = cache_hits()
        summary["compile_seconds"] = population.compile()
        summary["compile_cache_hits"] = cache_hits() - hits
        say(f"compiled in {summary['compile_seconds']:.1f} s{cached_note(summary)}")
        logger = None
        if jax.process_index() == 0:
            name = f"{experiment.config.algo.name}-{experiment.config.env}"
            logger = make_logger(log, path, experiment.num_seeds, experiment.record(), name)
        results = train_population(
            population, path / CHECKPOINTS, progress, checkpoint_every, say, logger
        )
        if jax.process_index() == 0:
            metrics_frame(results.metrics, experiment).to_parquet(path / METRICS, index=False)
        summary.update(timing(results))
        summary.update(judge_members(results, experiment))
    return {**summary, "run_dir": str(path)}


def device_record(population: Population) -> dict[str, Any]:
    devices = population.mesh.devices.ravel()
    return {
        "count": len(devices),
        "kind": devices[0].device_kind,
        "platform": devices[0].platform,
        "processes": jax.process_count(),
    }


def header(experiment: Experiment, population: Population) -> dict[str, Any]:
    config = experiment.config
    return {
        "algo": config.algo.name,
        "env": config.env,
        "num_seeds": experiment.num_seeds,
        "num_members": len(population.members),
        "total_timesteps": config.num_updates * config.batch_size,
    }


def timing(results: Results) -> dict[str, Any]:
    return {
        "train_seconds": results.train_seconds,
        "eval_seconds": results.eval_seconds,
        "steps_per_second": results.env_steps_trained / max(results.train_seconds, 1e-9),
        "resumed_from_update": results.resumed_from,
    }


def metrics_frame(metrics: dict[str, np.ndarray], experiment: Experiment) -> pd.DataFrame:
    """Long format: one row per member, seed and update; a sweep adds ``member`` and one
    column per swept setting."""
    num_runs, num_updates = metrics["update"].shape
    run = np.repeat(np.arange(num_runs), num_updates)
    columns: dict[str, Any] = {"seed": run % experiment.num_seeds}
    for name, values in metrics.items():
        columns[name] = values.reshape(-1)
    first = ["seed", "update", "env_steps", "episode_return"]
    points = experiment.points()
    if experiment.sweep:
        member = run // experiment.num_seeds
        columns["member"] = member
        for name in points[0]:
            columns[name] = np.asarray([point[name] for point in points])[member]
        first += ["member", *points[0]]
    return pd.DataFrame(columns)[[*first, *sorted(set(columns) - set(first))]]


def judge_members(results: Results, experiment: Experiment) -> dict[str, Any]:
    """Per member: its values, per-seed final return, status, and (when ok) the IQM with its
    95% bootstrap CI. The top level keeps the single-run contract for one member."""
    from jaxopt_lab.analysis import summarize_returns

    seeds = experiment.num_seeds
    nonfinite = results.metrics["nonfinite"].any(axis=1) | ~np.isfinite(results.final_return)
    members = []
    for index, point in enumerate(experiment.points()):
        rows = slice(index * seeds, (index + 1) * seeds)
        returns = results.final_return[rows]
        member: dict[str, Any] = {"values": point, "final_return": returns.tolist()}
        bad = np.flatnonzero(nonfinite[rows]).tolist()
        if bad:
            member.update(status="nonfinite", nonfinite_seeds=bad)
        else:
            member.update(status="ok", **summarize_returns(returns))
        members.append(member)
    if len(members) == 1:
        only = {k: v for k, v in members[0].items() if k != "values"}
        return {**only, "members": members}
    ok = all(m["status"] == "ok" for m in members)
    lists = {k: [m.get(k) for m in members] for k in ("final_return", "iqm", "ci_low", "ci_high")}
    return {**lists, "status": "ok" if ok else "nonfinite", "members": members}


def format_summary(summary: dict[str, Any]) -> str:
    """The final table printed on the terminal."""
    lines = [
        f"{summary['algo']} on {summary['env']}: {summary.get('num_members', 1)} member(s) x "
        f"{summary['num_seeds']} seeds x {summary['total_timesteps']:,} env steps  "
        f"[{summary['status']}]"
    ]
    if summary.get("resumed_from_update"):
        lines.append(f"  resumed from update {summary['resumed_from_update']}")
    members = summary.get("members", [])
    if len(members) == 1:
        lines += format_member(members[0], seeds_detail=True)
    for index, member in enumerate(members if len(members) > 1 else []):
        values = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in member["values"].items()
        )
        lines.append(f"  member {index}: {values}")
        lines += format_member(member, seeds_detail=False)
    if summary["status"] == "crashed":
        lines.append(f"  CRASHED: {summary.get('error', '')}")
    if "train_seconds" in summary:
        lines.append(
            f"  compile {summary['compile_seconds']:.1f} s{cached_note(summary)}, "
            f"train {summary['train_seconds']:.1f} s, "
            f"{summary['steps_per_second']:,.0f} env steps/s (all runs)"
        )
    return "\n".join(lines)


def cached_note(summary: dict[str, Any]) -> str:
    """`` (N program(s) from the compilation cache)`` when some were, else nothing."""
    hits = summary.get("compile_cache_hits", 0)
    return f" ({hits} program(s) from the compilation cache)" if hits else ""


def format_member(member: dict[str, Any], seeds_detail: bool) -> list[str]:
    lines = []
    if seeds_detail:
        lines.append("  seed  final_return")
        lines += [f"  {i:>4}  {r:12.2f}" for i, r in enumerate(member["final_return"])]
    if member["status"] == "ok":
        lines.append(
            f"    IQM final return {member['iqm']:.2f}  "
            f"(95% CI {member['ci_low']:.2f} .. {member['ci_high']:.2f})"
        )
    else:
        lines.append(
            f"    NOT A RESULT: non-finite loss or return in seeds {member['nonfinite_seeds']}"
        )
    return lines
