"""Algorithms x environments x seeds: one vmapped program per (algorithm, environment).

Seeds always share a compiled program. Algorithms and environments cannot: observation and
action shapes differ between environments, and the algorithms differ in static structure (the
MDPO and TRPO updates are other programs than the PPO-family minibatch loop). A comparison is
therefore ``len(algos) * len(envs)`` programs, each writing an ordinary run directory, plus a
combined table and one learning-curve figure per environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jaxopt_lab.analysis import (
    ScoreMatrices,
    aggregate_metrics,
    load_runs,
    load_score_matrices,
    normalize_scores,
    performance_profile,
    plot_performance_profile,
    plot_runs,
    probability_of_improvement_table,
)
from jaxopt_lab.launch.experiment import Experiment, run_experiment, validate_experiment
from jaxopt_lab.rl import TrainConfig
from jaxopt_lab.rundir import check_out_dir, load_run, read_status, run_directory

TABLE_COLUMNS = (
    "env",
    "algo",
    "status",
    "iqm",
    "ci_low",
    "ci_high",
    "num_seeds",
    "total_timesteps",
    "compile_seconds",
    "train_seconds",
    "steps_per_second",
)


def run_name(config: TrainConfig) -> str:
    """Directory name of one run inside a comparison: ``<algo>--<env>`` (``/`` -> ``_``)."""
    return f"{config.algo.name}--{config.env.replace('/', '_')}"


def comparison_record(configs: Sequence[TrainConfig], num_seeds: int, seed: int) -> dict:
    """What the comparison directory records as its config (a resumed one must match)."""
    return {"runs": [c.to_dict() for c in configs], "num_seeds": num_seeds, "seed": seed}


def validate_comparison(
    configs: Sequence[TrainConfig], num_seeds: int, out: str | os.PathLike, seed: int = 0
) -> Path:
    """Check every config and the output directory before anything compiles; a killed
    comparison of the same configs there is resumable."""
    if not configs:
        raise ValueError("algos/envs: nothing to compare")
    names = [run_name(config) for config in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"algos/envs: duplicate runs in {names}")
    path = check_out_dir(out, config=comparison_record(configs, num_seeds, seed))
    for config in configs:
        run_dir = path / run_name(config)
        if read_status(run_dir) != "ok" or not (run_dir / "config.json").is_file():
            validate_experiment(Experiment(config, num_seeds, seed), run_dir)
    return path


def run_comparison(
    configs: Sequence[TrainConfig],
    num_seeds: int,
    out: str | os.PathLike,
    seed: int = 0,
    progress: bool = True,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Train every config over ``num_seeds`` seeds, then write ``table.csv``, ``table.md``
    and ``curves-<env>.png`` into ``out`` (a run directory of kind ``comparison``). A run
    that crashes or goes non-finite is marked as such; the others still run. Rerunning a
    killed comparison skips the finished pairs and resumes the interrupted one. Returns the
    table."""
    path = validate_comparison(configs, num_seeds, out, seed)
    record = comparison_record(configs, num_seeds, seed)
    with run_directory(path, "comparison", record) as summary:
        run_dirs = [path / run_name(config) for config in configs]
        for config, run_dir in zip(configs, run_dirs, strict=True):
            on_run_result = train_pair(Experiment(config, num_seeds, seed), run_dir, progress)
            if on_run is not None:
                on_run(on_run_result)
        table = comparison_table(run_dirs)
        table.to_csv(path / "table.csv", index=False)
        (path / "table.md").write_text(format_table(table) + "\n")
        plot_comparison(path, run_dirs)
        summary["statistics"] = write_statistics(path, run_dirs)
        summary["runs"] = dict(
            zip(table["algo"] + " on " + table["env"], table["status"], strict=True)
        )
    return table


def train_pair(experiment: Experiment, run_dir: Path, progress: bool) -> dict[str, Any]:
    """One pair's summary: trained (or resumed), or read back when it already finished."""
    if read_status(run_dir) == "ok" and (run_dir / "config.json").is_file():
        return {**load_run(run_dir).summary, "resumed": "finished before"}
    try:
        return run_experiment(experiment, run_dir, progress)
    except Exception:  # recorded as crashed in its summary.json; the others still run
        return load_run(run_dir).summary


def comparison_table(run_dirs: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per run: IQM of the final return over seeds with its 95% bootstrap CI."""
    rows = []
    for run_dir in run_dirs:
        summary = load_run(run_dir).summary
        rows.append({column: summary.get(column) for column in TABLE_COLUMNS})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def format_table(table: pd.DataFrame) -> str:
    """Markdown table: env, algorithm, IQM [95% CI], seeds, env steps, wall times."""
    lines = [
        "| env | algo | IQM final return | 95% CI | seeds | env steps / seed "
        "| compile s | train s | env steps/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        if row.status == "ok":
            result, interval = f"{row.iqm:.1f}", f"{row.ci_low:.1f} .. {row.ci_high:.1f}"
        else:
            result, interval = f"NOT A RESULT ({row.status})", "-"
        lines.append(
            f"| {row.env} | {row.algo} | {result} | {interval} | {row.num_seeds} "
            f"| {row.total_timesteps:,} | {_seconds(row.compile_seconds)} "
            f"| {_seconds(row.train_seconds)} | {_rate(row.steps_per_second)} |"
        )
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:,.0f}"


def plot_comparison(path: Path, run_dirs: Sequence[str | os.PathLike]) -> list[Path]:
    """One figure per environment: a learning curve (IQM band over seeds) per algorithm;
    a run that is not ``ok`` is drawn dashed with its status in the legend."""
    with_metrics = [d for d in run_dirs if load_run(d).metrics is not None]
    if not with_metrics:
        return []
    frame = load_runs(with_metrics)
    figures = []
    for env, runs in frame.groupby("env", sort=False):
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_runs(runs, group="algo", ax=ax)
        ax.set_title(str(env))
        figure = path / f"curves-{str(env).replace('/', '_')}.png"
        fig.tight_layout()
        fig.savefig(figure, dpi=120)
        plt.close(fig)
        figures.append(figure)
    return figures


# Reference score ranges for normalisation (a random policy's return, the best possible): the
# ones of the environments the presets cover; others use the comparison's own min and max.
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "CartPole-v1": (0.0, 500.0),
    "Acrobot-v1": (-500.0, 0.0),
    "Pendulum-v1": (-1500.0, 0.0),
    "brax/inverted_pendulum": (0.0, 1000.0),
    "Breakout-MinAtar": (0.0, 100.0),
}


def write_statistics(path: Path, run_dirs: Sequence[Path]) -> dict[str, Any]:
    """Across-task statistics of the comparison (rliable's, ``jaxopt_lab.analysis``): the
    probability of improvement of every algorithm over every other (``poi.csv``, ``poi.md``),
    aggregate metrics of normalised scores (``aggregates.csv``) and the performance profile
    (``performance_profile.png``). Runs that are not ok are left out and listed."""
    matrices = load_score_matrices(list(run_dirs))
    excluded = {Path(k).name: v for k, v in matrices.excluded.items()}
    if len(matrices.scores) < 2 or not matrices.tasks:
        return {"skipped": "fewer than two algorithms with ok runs", "excluded": excluded}
    poi = probability_of_improvement_table(matrices.scores)
    poi.to_csv(path / "poi.csv")
    (path / "poi.md").write_text(format_poi(poi) + "\n")
    normalized = normalize_tasks(matrices)
    aggregate_metrics(normalized).to_csv(path / "aggregates.csv", index=False)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_performance_profile(performance_profile(normalized, np.linspace(0, 1, 51)), ax=ax)
    ax.set_title(f"performance profile over {', '.join(matrices.tasks)}")
    fig.tight_layout()
    fig.savefig(path / "performance_profile.png", dpi=120)
    plt.close(fig)
    return {"tasks": matrices.tasks, "score_ranges": score_ranges(matrices), "excluded": excluded}


def score_ranges(matrices: ScoreMatrices) -> dict[str, tuple[float, float]]:
    """Each task's normalisation range: ``SCORE_RANGES``, else the runs' own min and max."""
    ranges = {}
    for index, task in enumerate(matrices.tasks):
        values = np.concatenate([s[:, index] for s in matrices.scores.values()])
        low, high = SCORE_RANGES.get(task, (float(values.min()), float(values.max())))
        ranges[task] = (low, high if high > low else low + 1.0)
    return ranges


def normalize_tasks(matrices: ScoreMatrices) -> dict[str, np.ndarray]:
    ranges = score_ranges(matrices)
    lows = [ranges[t][0] for t in matrices.tasks]
    highs = [ranges[t][1] for t in matrices.tasks]
    return {algo: normalize_scores(s, lows, highs) for algo, s in matrices.scores.items()}


def format_poi(poi: pd.DataFrame) -> str:
    """Markdown: P(X > Y) over runs and tasks with its 95% stratified bootstrap interval."""
    lines = ["| X vs Y | P(X > Y) | 95% CI |", "|---|---|---|"]
    for pair, row in poi.iterrows():
        lines.append(f"| {pair} | {row.estimate:.2f} | {row.ci_low:.2f} .. {row.ci_high:.2f} |")
    return "\n".join(lines)
