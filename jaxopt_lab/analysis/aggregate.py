"""Aggregate statistics across runs and tasks, with stratified bootstrap confidence intervals.

Numpy/scipy re-implementation of rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", NeurIPS; github.com/google-research/rliable), whose
1.2.0 release does not import with current ``arch``. Scores are matrices of shape
``[runs, tasks]`` (``scores[n, m]`` is run ``n`` on task ``m``), usually normalised per task
with ``normalize_scores``; several algorithms are a dict ``{algo: scores}``.

The point statistics accept extra leading (batch) axes, ``[..., runs, tasks]``, so one call
evaluates all bootstrap resamples at once. Intervals are percentile intervals over
``n_resamples`` stratified bootstrap resamples: within each task, runs are drawn with
replacement independently of every other task (rliable's ``StratifiedBootstrap``), so a task's
scores never move to another task. Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from numpy.typing import ArrayLike
from scipy import stats

from jaxopt_lab.analysis.results import _run_dirs
from jaxopt_lab.analysis.stats import _finite_array

METRICS = ("median", "iqm", "mean", "optimality_gap")
"""Rows of ``aggregate_metrics``, in rliable's plotting order."""


class Estimate(NamedTuple):
    """A point estimate with its bootstrap interval (floats, or arrays for profiles)."""

    estimate: Any
    ci_low: Any
    ci_high: Any


def _finite(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a non-empty finite float array; the error names the argument."""
    try:
        return _finite_array(values)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def _score_matrix(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    """``scores`` as a finite float array of shape ``[..., runs, tasks]``."""
    arr = _finite(scores, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must have shape [runs, tasks], got shape {arr.shape}")
    return arr


def _matrix_2d(scores: ArrayLike, name: str = "scores") -> np.ndarray:
    """``scores`` as a finite float array of shape exactly ``[runs, tasks]``."""
    arr = _score_matrix(scores, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape [runs, tasks], got shape {arr.shape}")
    return arr


def _scalar(value: Any) -> Any:
    """A Python float for 0-d results, the array otherwise."""
    return float(value) if np.ndim(value) == 0 else np.asarray(value)


# ---------------------------------------------------------------- normalisation


def normalize_scores(scores: ArrayLike, min_scores: ArrayLike, max_scores: ArrayLike) -> np.ndarray:
    """Per-task min/max normalisation: ``(scores - min) / (max - min)``, task by task.

    ``scores`` has shape ``[runs, tasks]``; ``min_scores`` and ``max_scores`` are scalars or
    have shape ``[tasks]`` (e.g. random and human scores for human-normalised Atari scores).
    Raises ``ValueError`` on non-finite values, mismatched shapes, or ``max <= min`` for a task.
    """
    arr = _matrix_2d(scores)
    tasks = arr.shape[1]
    bounds = []
    for name, value in (("min_scores", min_scores), ("max_scores", max_scores)):
        bound = _finite(value, name)
        if bound.shape not in ((), (tasks,)):
            raise ValueError(f"{name} must be a scalar or have shape ({tasks},), got {bound.shape}")
        bounds.append(np.broadcast_to(bound, (tasks,)))
    low, high = bounds
    bad = np.flatnonzero(high <= low)
    if bad.size:
        raise ValueError(f"max_scores must exceed min_scores; not so for tasks {bad.tolist()}")
    return (arr - low) / (high - low)


# ---------------------------------------------------------------- point statistics


def aggregate_iqm(scores: ArrayLike) -> float | np.ndarray:
    """Interquartile mean of all ``runs * tasks`` scores pooled (25% trimmed from each end).

    ``scipy.stats.trim_mean(scores, 0.25, axis=None)``; equals ``rliable.metrics.aggregate_iqm``.
    """
    arr = _score_matrix(scores)
    pooled = arr.reshape(*arr.shape[:-2], -1)
    return _scalar(stats.trim_mean(pooled, 0.25, axis=-1))


def aggregate_median(scores: ArrayLike) -> float | np.ndarray:
    """Median over tasks of the per-task mean over runs: ``median_m(mean_n scores[n, m])``.

    Equals ``rliable.metrics.aggregate_median`` (the median of task means, not of run means).
    """
    return _scalar(np.median(np.mean(_score_matrix(scores), axis=-2), axis=-1))


def aggregate_mean(scores: ArrayLike) -> float | np.ndarray:
    """Mean over tasks of the per-task mean over runs: ``mean_m(mean_n scores[n, m])``.

    Equals ``rliable.metrics.aggregate_mean``.
    """
    return _scalar(np.mean(np.mean(_score_matrix(scores), axis=-2), axis=-1))


def aggregate_optimality_gap(scores: ArrayLike, gamma: float = 1.0) -> float | np.ndarray:
    """How far scores fall short of ``gamma``: ``gamma - mean(min(x, gamma))``.

    Equivalently ``mean(max(gamma - x, 0))`` over all runs and tasks; lower is better, and
    ``gamma = 1`` is the target on normalised scores. Equals
    ``rliable.metrics.aggregate_optimality_gap``.
    """
    arr = _score_matrix(scores)
    return _scalar(gamma - np.mean(np.minimum(arr, gamma), axis=(-2, -1)))


def probability_of_improvement(scores_x: ArrayLike, scores_y: ArrayLike) -> float | np.ndarray:
    """``P(X > Y)``: per task ``P(X_m > Y_m) + P(X_m = Y_m) / 2`` over runs, averaged over tasks.

    Per task this is the Mann-Whitney U statistic of X's runs against Y's, ``U / (n * m)``,
    computed from mid-ranks of the pooled runs, ``U = sum(rank(x)) - n (n + 1) / 2`` (ties
    count 1/2). ``scores_x`` is ``[n, tasks]`` and ``scores_y`` is ``[m, tasks]``; run counts
    may differ. Equals ``rliable.metrics.probability_of_improvement``.
    """
    x = _score_matrix(scores_x, "scores_x")
    y = _score_matrix(scores_y, "scores_y")
    if x.shape[:-2] != y.shape[:-2] or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"scores_x {x.shape} and scores_y {y.shape} must share the tasks")
    n, m = x.shape[-2], y.shape[-2]
    ranks = stats.rankdata(np.concatenate([x, y], axis=-2), axis=-2)
    u = ranks[..., :n, :].sum(axis=-2) - n * (n + 1) / 2
    return _scalar(np.mean(u / (n * m), axis=-1))


def score_distribution(scores: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """Performance profile: the fraction of runs with score ``> tau``, averaged over tasks.

    ``mean(scores > tau)`` over all runs and tasks, for each ``tau`` (last axis of the result).
    Equals ``rliable.library.score_distributions``.
    """
    arr = _score_matrix(scores)
    pooled = arr.reshape(*arr.shape[:-2], -1)
    thresholds = np.atleast_1d(_finite(taus, "taus"))
    return np.stack([np.mean(pooled > tau, axis=-1) for tau in thresholds], axis=-1)


def average_score_distribution(scores: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """The fraction of tasks whose mean score over runs is ``> tau``, for each ``tau``.

    Equals ``rliable.library.average_score_distributions``; it has wider bootstrap bands than
    ``score_distribution``, which rliable recommends.
    """
    task_means = np.mean(_score_matrix(scores), axis=-2)
    thresholds = np.atleast_1d(_finite(taus, "taus"))
    return np.stack([np.mean(task_means > tau, axis=-1) for tau in thresholds], axis=-1)


# ---------------------------------------------------------------- stratified bootstrap


def _resample(scores: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_resamples`` stratified resamples of a ``[runs, tasks]`` matrix, stacked on axis 0."""
    runs, tasks = scores.shape
    rows = rng.integers(0, runs, size=(n_resamples, runs, tasks))
    return scores[rows, np.arange(tasks)]


def stratified_bootstrap(scores: ArrayLike, n_resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """Stratified bootstrap resamples of ``scores``, shape ``[n_resamples, runs, tasks]``.

    ``out[b, n, m] = scores[i, m]`` with ``i`` uniform on the runs, drawn independently for
    every ``(b, n, m)``: runs are resampled with replacement within each task. The same
    scheme as ``rliable.library.StratifiedBootstrap`` (``task_bootstrap=False``).
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    return _resample(_matrix_2d(scores), n_resamples, np.random.default_rng(seed))


def interval_estimate(
    statistic: Callable[..., Any],
    *scores: ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """``statistic(*scores)`` with its stratified bootstrap percentile ``confidence`` interval.

    Each ``[runs, tasks]`` array is resampled independently (one array: rliable's
    ``StratifiedBootstrap``; several: ``StratifiedIndependentBootstrap``), ``statistic`` is
    evaluated on all resamples at once (it must accept a leading batch axis, as the point
    statistics here do), and the interval is the ``(1 -+ confidence) / 2`` percentiles of the
    resampled values, as ``rliable.library.get_interval_estimates(method='percentile')``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    arrays = [_matrix_2d(s) for s in scores]
    rng = np.random.default_rng(seed)
    resampled = [_resample(arr, n_resamples, rng) for arr in arrays]
    values = np.asarray(statistic(*resampled))
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(values, [tail, 100.0 - tail], axis=0)
    return Estimate(statistic(*arrays), _scalar(low), _scalar(high))


def _all_metrics(scores: np.ndarray, gamma: float) -> np.ndarray:
    """``METRICS`` of ``scores`` stacked on a new last axis."""
    return np.stack(
        [
            aggregate_median(scores),
            aggregate_iqm(scores),
            aggregate_mean(scores),
            aggregate_optimality_gap(scores, gamma),
        ],
        axis=-1,
    )


def aggregate_metrics(
    score_dict: Mapping[str, ArrayLike],
    gamma: float = 1.0,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Median, IQM, mean and optimality gap of each algorithm, with stratified bootstrap CIs.

    Long format: columns ``algo, metric, estimate, ci_low, ci_high``, one row per algorithm and
    metric (``METRICS`` order). All four metrics of an algorithm share one set of resamples,
    as with rliable's ``get_interval_estimates`` on a stacked ``aggregate_func``.
    """
    rows = []
    for algo, scores in score_dict.items():
        est = interval_estimate(
            functools.partial(_all_metrics, gamma=gamma),
            scores,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        for i, metric in enumerate(METRICS):
            values = (float(est.estimate[i]), float(est.ci_low[i]), float(est.ci_high[i]))
            rows.append((algo, metric, *values))
    return pd.DataFrame(rows, columns=["algo", "metric", *Estimate._fields])


def probability_of_improvement_table(
    score_dict: Mapping[str, ArrayLike],
    pairs: Iterable[tuple[str, str]] | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """``P(X > Y)`` with its bootstrap interval for each pair ``(X, Y)`` of algorithms.

    ``pairs`` defaults to every pair ``(X, Y)`` with X before Y in ``score_dict``. X's and Y's
    runs are resampled independently within each task (rliable's
    ``get_interval_estimates({"X,Y": [x, y]}, probability_of_improvement)``). Index ``"X vs
    Y"``; columns ``estimate, ci_low, ci_high``.
    """
    pairs = list(itertools.combinations(score_dict, 2) if pairs is None else pairs)
    unknown = sorted({name for pair in pairs for name in pair} - set(score_dict))
    if unknown:
        raise ValueError(f"pairs name algorithms {unknown} not in score_dict {list(score_dict)}")
    rows = {}
    for x, y in pairs:
        est = interval_estimate(
            probability_of_improvement,
            score_dict[x],
            score_dict[y],
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        rows[f"{x} vs {y}"] = [float(v) for v in est]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(Estimate._fields))
    return table.rename_axis("pair")


def performance_profile(
    score_dict: Mapping[str, ArrayLike],
    taus: ArrayLike,
    *,
    average: bool = False,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Score distribution of each algorithm at thresholds ``taus``, with bootstrap bands.

    ``average=False``: ``score_distribution`` (fraction of runs above ``tau``, averaged over
    tasks); ``average=True``: ``average_score_distribution`` (fraction of task means above
    ``tau``). As ``rliable.library.create_performance_profile``. Long format: columns ``algo,
    tau, estimate, ci_low, ci_high``.
    """
    thresholds = np.atleast_1d(_finite(taus, "taus"))
    profile = average_score_distribution if average else score_distribution
    frames = []
    for algo, scores in score_dict.items():
        est = interval_estimate(
            functools.partial(profile, taus=thresholds),
            scores,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        frames.append(pd.DataFrame({"algo": algo, "tau": thresholds, **est._asdict()}))
    return pd.concat(frames, ignore_index=True)


def plot_performance_profile(
    profile: pd.DataFrame,
    ax: Axes | None = None,
    *,
    xlabel: str = r"normalised score ($\tau$)",
) -> Axes:
    """One line per algorithm of ``performance_profile(...)`` output, with its bootstrap band.

    The y axis is the fraction of runs with score ``> tau``. Creates a figure when ``ax`` is
    None; returns the axes.
    """
    missing = [c for c in ("algo", "tau", *Estimate._fields) if c not in profile.columns]
    if missing:
        raise ValueError(f"profile lacks columns {missing}; pass performance_profile(...)")
    if ax is None:
        _, ax = plt.subplots()
    for algo, sub in profile.groupby("algo", sort=False):
        (line,) = ax.plot(sub["tau"], sub["estimate"], label=str(algo))
        ax.fill_between(
            sub["tau"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.2, lw=0
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"fraction of runs with score $> \tau$")
    ax.legend()
    return ax


# ---------------------------------------------------------------- run directories


@dataclass(frozen=True)
class ScoreMatrices:
    """Final returns of run directories as ``[runs, tasks]`` matrices, one per algorithm.

    ``scores[algo][:, j]`` are the per-seed final returns on ``tasks[j]``; ``excluded`` maps
    the path of each run directory left out to the reason.
    """

    scores: dict[str, np.ndarray]
    tasks: list[str]
    excluded: dict[str, str]


def _read_final_returns(run_dir: Path) -> tuple[str, str, list[float]] | str:
    """``(algo, env, final_return)`` of an ok run, else the reason to exclude it."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        return f"unreadable summary.json: {err}"
    if not isinstance(summary, dict):
        return "summary.json is not a JSON object"
    if summary.get("status") != "ok":
        return f"status {summary.get('status')!r}"
    algo, env, final = summary.get("algo"), summary.get("env"), summary.get("final_return")
    if not isinstance(algo, str) or not isinstance(env, str):
        return "summary.json lacks algo or env"
    if not isinstance(final, list) or not final or not all(map(_is_finite_number, final)):
        return "final_return is not a non-empty list of finite numbers"
    return algo, env, [float(v) for v in final]


def _kind(run_dir: Path) -> str | None:
    """The ``kind`` a readable ``summary.json`` records, else ``None``."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return summary.get("kind") if isinstance(summary, dict) else None


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def load_score_matrices(paths_or_glob_root: str | Path | Iterable[str | Path]) -> ScoreMatrices:
    """Per-algorithm ``[runs, tasks]`` matrices of ``final_return`` from run directories.

    Accepts what ``load_runs`` accepts (a run dir, a root searched for ``summary.json``, a glob,
    or a list). Tasks are envs (sorted), runs are seeds; ok runs of the same algo and env are
    pooled in directory order. Runs whose ``status`` is not ``"ok"`` (or whose summary is
    unusable) are excluded and reported in ``excluded``, as are runs on an env that some
    algorithm has no ok run on (that env is dropped for all; with no env left, ``scores`` is
    empty). Raises ``ValueError`` if an algorithm has different seed counts on different envs.
    """
    excluded: dict[str, str] = {}
    runs: dict[tuple[str, str], list[tuple[Path, list[float]]]] = {}
    for run_dir in _run_dirs(paths_or_glob_root):
        if _kind(run_dir) not in ("rl", None):
            continue  # a comparison's or an ES run's own directory: not a training run
        read = _read_final_returns(run_dir)
        if isinstance(read, str):
            excluded[str(run_dir)] = read
        else:
            runs.setdefault(read[:2], []).append((run_dir, read[2]))
    algos = sorted({algo for algo, _ in runs})
    envs = sorted({env for _, env in runs})
    tasks = [env for env in envs if all((algo, env) in runs for algo in algos)]
    for (_, env), entries in runs.items():
        if env not in tasks:
            lacking = [a for a in algos if (a, env) not in runs]
            excluded.update({str(p): f"env {env!r} has no ok run of {lacking}" for p, _ in entries})
    if not tasks:
        return ScoreMatrices(scores={}, tasks=[], excluded=excluded)
    scores = {}
    for algo in algos:
        columns = [list(itertools.chain(*(f for _, f in runs[algo, env]))) for env in tasks]
        counts = {env: len(col) for env, col in zip(tasks, columns, strict=True)}
        if len(set(counts.values())) != 1:
            raise ValueError(f"algo {algo!r} has different seed counts per env: {counts}")
        scores[algo] = np.array(columns, dtype=float).T
    return ScoreMatrices(scores=scores, tasks=tasks, excluded=excluded)
