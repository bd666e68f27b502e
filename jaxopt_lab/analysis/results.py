"""Loading run directories written by the experiment scripts.

A run directory holds ``config.json`` (resolved config and package versions),
``metrics.parquet`` (long format, one row per seed per logged update) and ``summary.json``
(final returns, IQM with its bootstrap CI, timings); see DESIGN.md, "Contracts".
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

RUN_FILES = ("config.json", "metrics.parquet", "summary.json")
REQUIRED_METRIC_COLUMNS = ("seed", "update", "env_steps", "episode_return")
REQUIRED_SUMMARY_KEYS = (
    "algo",
    "env",
    "num_seeds",
    "final_return",
    "iqm",
    "ci_low",
    "ci_high",
    "compile_seconds",
    "train_seconds",
    "steps_per_second",
)


@dataclass(frozen=True, eq=False)
class Run:
    """One loaded run directory: its resolved config, per-seed metrics and summary."""

    path: Path
    config: dict[str, Any]
    metrics: pd.DataFrame
    summary: dict[str, Any]


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ValueError(f"{path} must hold a JSON object, got {kind}")
    return data


def load_run(path: str | Path) -> Run:
    """Load the run directory ``path``.

    Raises ``FileNotFoundError`` if the directory or one of its files (config.json,
    metrics.parquet, summary.json) is missing, and ``ValueError`` if a file is malformed or
    lacks required metric columns / summary keys.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {path} does not exist")
    absent = [name for name in RUN_FILES if not (path / name).is_file()]
    if absent:
        raise FileNotFoundError(f"incomplete run directory {path}: missing {', '.join(absent)}")

    config = _read_json_object(path / "config.json")
    summary = _read_json_object(path / "summary.json")
    missing_keys = [k for k in REQUIRED_SUMMARY_KEYS if k not in summary]
    if missing_keys:
        raise ValueError(f"{path / 'summary.json'} lacks keys {missing_keys}")
    metrics = pd.read_parquet(path / "metrics.parquet")
    missing_cols = [c for c in REQUIRED_METRIC_COLUMNS if c not in metrics.columns]
    if missing_cols:
        raise ValueError(f"{path / 'metrics.parquet'} lacks columns {missing_cols}")
    return Run(path=path, config=config, metrics=metrics, summary=summary)


def _run_dirs(paths_or_glob_root: str | Path | Iterable[str | Path]) -> list[Path]:
    """Resolve a run dir, a root searched recursively, a glob pattern, or a list of run dirs."""
    if not isinstance(paths_or_glob_root, str | Path):
        return [Path(p) for p in paths_or_glob_root]
    text = str(paths_or_glob_root)
    if glob.has_magic(text):
        dirs = sorted(Path(p) for p in glob.glob(text) if Path(p).is_dir())
    else:
        root = Path(text)
        if not root.is_dir():
            raise FileNotFoundError(f"{root} does not exist")
        if (root / "summary.json").is_file():
            return [root]
        dirs = sorted(p.parent for p in root.rglob("summary.json"))
    if not dirs:
        raise FileNotFoundError(f"no run directories found for {text!r}")
    return dirs


def load_runs(paths_or_glob_root: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Concatenated metrics of several runs, with ``run`` (path), ``algo`` and ``env`` columns.

    Accepts a list of run directories, a glob pattern (``"runs/ppo_*"``), a single run
    directory, or a root directory searched recursively for runs (dirs with summary.json).
    """
    frames = []
    for run_dir in _run_dirs(paths_or_glob_root):
        run = load_run(run_dir)
        frames.append(
            run.metrics.assign(run=str(run.path), algo=run.summary["algo"], env=run.summary["env"])
        )
    if not frames:
        raise ValueError("no run directories given")
    return pd.concat(frames, ignore_index=True)
