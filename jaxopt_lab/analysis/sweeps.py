"""Hyperparameter sweeps: a per-setting table over seeds and the "final value vs x" figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from jaxopt_lab.analysis.plots import learning_curve_band
from jaxopt_lab.analysis.stats import bootstrap_ci, iqm


def sweep_table(
    results: pd.DataFrame,
    value: str,
    by: tuple[str, ...] = ("optimizer", "learning_rate"),
) -> pd.DataFrame:
    """One row per setting ``by``: the IQM of ``value`` over its seeds and its 95% bootstrap CI.

    Columns: ``*by, iqm, ci_low, ci_high, seeds, nonfinite``. A setting with a non-finite value
    (a diverged seed) gets NaN statistics and the count of such seeds in ``nonfinite``: it is
    reported as diverged, never summarised over the seeds that survived.
    """
    rows = []
    for key, group in results.groupby(list(by), sort=True):
        values = group[value].to_numpy(dtype=float)
        bad = int(np.count_nonzero(~np.isfinite(values)))
        stats = (np.nan, np.nan, np.nan) if bad else (iqm(values), *bootstrap_ci(values))
        rows.append((*key, *stats, len(values), bad))
    return pd.DataFrame(rows, columns=[*by, "iqm", "ci_low", "ci_high", "seeds", "nonfinite"])


def plot_sweep(
    results: pd.DataFrame,
    value: str,
    x: str = "learning_rate",
    group: str = "optimizer",
    ax: Axes | None = None,
) -> Axes:
    """One curve per ``group``: the IQM over seeds of ``value`` against ``x`` (log scale), with
    its 95% bootstrap band. Diverged seeds (non-finite values) are left out point by point."""
    if ax is None:
        _, ax = plt.subplots()
    finite = results.assign(**{value: results[value].where(np.isfinite(results[value]))})
    for name, sub in finite.groupby(group, sort=False):
        band = learning_curve_band(sub, x=x, y=value, seed_col="seed")
        (line,) = ax.plot(band[x], band["iqm"], marker="o", ms=3, label=str(name))
        ax.fill_between(band[x], band["low"], band["high"], color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x)
    ax.set_ylabel(f"{value} (IQM over seeds, 95% CI)")
    ax.legend(fontsize="small")
    return ax
