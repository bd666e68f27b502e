"""Aggregate statistics over seeds: interquartile mean and percentile-bootstrap intervals.

The interquartile mean (IQM) is the mean of the middle 50% of the values: with ``n`` values,
``floor(n / 4)`` are dropped from each end of the sorted sample and the rest are averaged
(exactly ``scipy.stats.trim_mean(x, 0.25)``, the definition used by rliable). For ``n < 4``
nothing is dropped and the IQM is the plain mean.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

Statistic = Callable[..., np.ndarray | float]
"""A statistic ``f(sample, axis=...)`` that reduces ``axis`` (``iqm``, ``np.mean``, ...)."""


def _finite_array(values: ArrayLike) -> np.ndarray:
    """``values`` as a non-empty float array; raise if any entry is NaN or infinite."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("cannot summarise an empty sample")
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{bad} of {arr.size} values are non-finite (NaN or inf)")
    return arr


def iqm(values: ArrayLike, axis: int | None = -1) -> np.ndarray | float:
    """Interquartile mean along ``axis``: ``scipy.stats.trim_mean(values, 0.25, axis)``.

    Returns a Python float when the result is a scalar. Raises ``ValueError`` on empty or
    non-finite input (a NaN would otherwise be silently sorted into the trimmed tail).
    """
    out = stats.trim_mean(_finite_array(values), 0.25, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def bootstrap_ci(
    values: ArrayLike,
    statistic: Statistic = iqm,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap ``confidence`` interval of ``statistic`` over a 1-D sample.

    Resamples the values with replacement ``n_resamples`` times (``scipy.stats.bootstrap``,
    ``method='percentile'``, vectorized, so ``statistic`` must accept ``axis``) and returns the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled statistic.
    Deterministic for a given ``seed``. A single value or a constant sample gives
    ``(s, s)`` with ``s = statistic(values)``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples!r}")
    arr = _finite_array(values)
    if arr.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {arr.shape}")
    if arr.size == 1 or np.all(arr == arr[0]):
        point = float(statistic(arr, axis=-1))
        return point, point
    res = stats.bootstrap(
        (arr,),
        statistic,
        n_resamples=n_resamples,
        vectorized=True,
        axis=-1,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),  # `rng=` needs scipy>=1.15
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize_returns(values: ArrayLike) -> dict[str, float]:
    """Summary of per-seed returns: IQM with its 95% bootstrap CI, mean, median and std.

    ``std`` is the population standard deviation (``ddof=0``). All values are Python floats,
    so the dict is JSON-serialisable. Raises ``ValueError`` naming how many values are
    non-finite, rather than summarising them.
    """
    arr = _finite_array(values).ravel()
    ci_low, ci_high = bootstrap_ci(arr)
    return {
        "iqm": float(iqm(arr)),
        "ci_low": ci_low,
        "ci_high": ci_high,
        "mean": float(np.mean(arr)),
        "median": float(np.median(arr)),
        "std": float(np.std(arr)),
    }
