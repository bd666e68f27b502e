"""Loading run directories for analysis (the format: :mod:`jaxopt_lab.rundir`).

:func:`load_runs` concatenates the metrics of several runs, each row tagged with its run, its
algorithm, environment and status: a non-finite or crashed run loads too, and the plots mark it.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from jaxopt_lab.rundir import SUMMARY, Run, load_run


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
        dirs = sorted(p.parent for p in root.rglob(SUMMARY))
    if not dirs:
        raise FileNotFoundError(f"no run directories found for {text!r}")
    return dirs


def load_runs(paths_or_glob_root: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Concatenated metrics of several training runs (kind ``rl``), with ``run`` (path),
    ``algo``, ``env`` and ``status`` columns. Runs that wrote no metrics (crashed early) add
    no rows; directories of other kinds (a comparison's own directory) are skipped.

    Accepts a list of run directories, a glob pattern (``"runs/ppo_*"``), a single run
    directory, or a root directory searched recursively for runs (dirs with summary.json).
    """
    frames = []
    for run_dir in _run_dirs(paths_or_glob_root):
        run = load_run(run_dir)
        if run.kind == "rl" and run.metrics is not None:
            tags = {"run": str(run.path), "algo": run.summary.get("algo"), "status": run.status}
            frames.append(run.metrics.assign(**tags, env=run.summary.get("env")))
    if not frames:
        raise ValueError("no run directories with metrics given")
    return pd.concat(frames, ignore_index=True)


__all__ = ["Run", "load_run", "load_runs"]
