"""Learning curves: the IQM over seeds at each x with a percentile-bootstrap band.

At each x the band is computed from the seeds that have a finite value there (NaN, e.g. "no
episode finished yet", is skipped per point): the IQM (``scipy.stats.trim_mean(v, 0.25)``) of
``n_resamples`` resamples with replacement of those ``k`` values, and its percentiles. The
bootstrap is vectorised: one ``(n_resamples, n_seeds)`` array of uniforms ``u`` is drawn once and
every x with ``k`` finite seeds resamples indices ``floor(u[:, :k] * k)``, all such x at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _seed_columns(seed_col: str | Sequence[str]) -> list[str]:
    return [seed_col] if isinstance(seed_col, str) else list(seed_col)


def learning_curve_band(
    metrics: pd.DataFrame,
    x: str = "env_steps",
    y: str = "episode_return",
    seed_col: str | Sequence[str] = "seed",
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """IQM of ``y`` over seeds at each ``x``, with a percentile-bootstrap ``confidence`` band.

    ``metrics`` is long format, one row per (seed, x). Returns columns ``[x, "iqm", "low",
    "high"]`` sorted by ``x``; x-points where no seed has a finite ``y`` are left out. NaN
    values are ignored per point; infinite values raise ``ValueError``. ``seed_col`` may name
    several columns (e.g. ``["run", "seed"]``) when seeds of different runs are pooled.
    """
    seeds = _seed_columns(seed_col)
    missing = [c for c in (x, y, *seeds) if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics lacks columns {missing}; has {list(metrics.columns)}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    if np.isinf(metrics[y].to_numpy(dtype=float)).any():
        raise ValueError(f"column {y!r} contains infinite values")
    dup = metrics.duplicated([x, *seeds])
    if dup.any():
        raise ValueError(
            f"{int(dup.sum())} duplicate ({x}, {', '.join(seeds)}) rows; pass a seed_col "
            "that identifies each curve (e.g. ['run', 'seed'])"
        )

    table = metrics.set_index([x, *seeds])[y].unstack(seeds).sort_index()
    values = np.sort(table.to_numpy(dtype=float), axis=1)  # per x: finite values first, NaN last
    counts = np.isfinite(values).sum(axis=1)
    uniforms = np.random.default_rng(seed).random((n_resamples, values.shape[1]))
    q = 100.0 * np.array([(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    point = np.full(len(table), np.nan)
    bounds = np.full((2, len(table)), np.nan)
    for k in np.unique(counts[counts > 0]):
        rows, cut = np.flatnonzero(counts == k), k // 4
        sub = values[rows]
        point[rows] = sub[:, cut : k - cut].mean(axis=1)
        # Sorted uniforms map to sorted indices into the sorted finite values, so each resample
        # comes out sorted and its IQM is the mean of the middle columns.
        idx = np.minimum((np.sort(uniforms[:, :k], axis=1) * k).astype(np.int64), k - 1)
        middle = idx[:, cut : k - cut]  # (n_resamples, k - 2 * cut)
        stat = sum(sub[:, middle[:, j]] for j in range(middle.shape[1]))
        bounds[:, rows] = np.percentile(stat / middle.shape[1], q, axis=1)

    keep = counts > 0
    return pd.DataFrame(
        {
            x: table.index.to_numpy()[keep],
            "iqm": point[keep],
            "low": bounds[0, keep],
            "high": bounds[1, keep],
        }
    )


def plot_learning_curves(
    metrics: pd.DataFrame,
    ax: Axes | None = None,
    label: str | None = None,
    color: str | None = None,
    x: str = "env_steps",
    y: str = "episode_return",
    smooth: int = 1,
    seed_col: str | Sequence[str] = "seed",
) -> Axes:
    """Draw the IQM-over-seeds line of one run (or group) and its 95% bootstrap band.

    ``smooth`` is a trailing moving-average window (in logged points) applied to the line and
    the band; 1 means no smoothing. Creates a new figure when ``ax`` is None.
    """
    if not isinstance(smooth, int | np.integer) or smooth < 1:
        raise ValueError(f"smooth must be an integer >= 1, got {smooth!r}")
    band = learning_curve_band(metrics, x=x, y=y, seed_col=seed_col)
    cols = ["iqm", "low", "high"]
    band[cols] = band[cols].rolling(smooth, min_periods=1).mean()
    if ax is None:
        _, ax = plt.subplots()
    (line,) = ax.plot(band[x], band["iqm"], label=label, color=color)
    ax.fill_between(band[x], band["low"], band["high"], color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (IQM over seeds)")
    return ax


def plot_runs(
    df: pd.DataFrame,
    group: str = "algo",
    ax: Axes | None = None,
    *,
    x: str = "env_steps",
    y: str = "episode_return",
    smooth: int = 1,
    seed_col: str | Sequence[str] | None = None,
) -> Axes:
    """One learning curve (IQM line + band) per value of ``group``, with a legend.

    ``df`` is typically ``load_runs(...)``. ``seed_col`` defaults to ``["run", "seed"]`` when
    ``df`` has a ``run`` column (so seeds of different runs in one group stay distinct), else
    ``"seed"``. A group with a ``status`` other than ``ok`` (a non-finite or crashed run) is
    drawn dashed, its status in the legend, infinite values left out like NaN.
    """
    if group not in df.columns:
        raise ValueError(f"df lacks the group column {group!r}; has {list(df.columns)}")
    if df.empty:
        raise ValueError("df is empty: nothing to plot")
    if seed_col is None:
        seed_col = ["run", "seed"] if "run" in df.columns else "seed"
    if ax is None:
        _, ax = plt.subplots()
    for name, sub in df.groupby(group, sort=True):
        statuses = sorted(set(sub["status"]) - {"ok"}) if "status" in sub.columns else []
        label = f"{name} ({', '.join(statuses)})" if statuses else str(name)
        if statuses:
            sub = sub.assign(**{y: sub[y].where(np.isfinite(sub[y].astype(float)))})
        plot_learning_curves(sub, ax=ax, label=label, x=x, y=y, smooth=smooth, seed_col=seed_col)
        if statuses:
            ax.lines[-1].set_linestyle("--")
    ax.legend(title=group)
    return ax


def plot_fitness_curve(fitness: np.ndarray, ylabel: str = "fitness") -> Figure:
    """Best, mean and worst population fitness per generation of an evolution-strategies run
    (``fitness``: generations x members)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    generations = np.arange(len(fitness))
    ax.fill_between(generations, fitness.min(1), fitness.max(1), alpha=0.2, label="min .. max")
    ax.plot(generations, fitness.mean(1), label="population mean")
    ax.plot(generations, fitness.max(1), ls="--", label="best")
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
