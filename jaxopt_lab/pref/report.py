"""Summaries of a preference sweep: mean and Student-t interval over seeds, table, frontier plot.

With few seeds (3 to 5) a percentile bootstrap understates the spread, so intervals here are
``mean +- t_{0.975, n-1} * sd / sqrt(n)`` over seeds (data seed, reference and run together).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: Student-t interval of the mean (``(m, m, m)`` for one value)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return mean, mean, mean
    half = stats.t.ppf((1 + confidence) / 2, values.size - 1) * stats.sem(values)
    return mean, mean - half, mean + half


def summarize_sweep(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (loss, beta): mean and 95% interval over seeds of reward and KL."""
    rows = []
    for (loss, beta), group in results.groupby(["loss", "beta"], sort=False):
        reward, reward_low, reward_high = mean_ci(group["reward"])
        kl, kl_low, kl_high = mean_ci(group["kl"])
        rows.append(
            dict(
                loss=loss,
                beta=beta,
                seeds=len(group),
                reward=reward,
                reward_low=reward_low,
                reward_high=reward_high,
                kl=kl,
                kl_low=kl_low,
                kl_high=kl_high,
            )
        )
    return pd.DataFrame(rows)


def format_table(summary: pd.DataFrame, reference: tuple[float, float, float]) -> str:
    """Markdown table: rows are losses, columns betas, cells ``reward (KL)`` (means)."""
    betas = sorted(summary["beta"].unique())
    header = "| loss | " + " | ".join(f"beta {b:g}" for b in betas) + " |"
    lines = [header, "| --- |" + " ---: |" * len(betas)]
    for loss, group in summary.groupby("loss", sort=False):
        cells = group.set_index("beta")
        row = [f"{cells.at[b, 'reward']:.3f} ({cells.at[b, 'kl']:.2f})" for b in betas]
        lines.append(f"| {loss} | " + " | ".join(row) + " |")
    mean, low, high = reference
    lines.append("")
    lines.append(
        f"Cells: true reward (KL to the reference), means over seeds. "
        f"Reference (SFT) reward {mean:.3f} (95% CI {low:.3f} .. {high:.3f}), KL 0."
    )
    return "\n".join(lines)


def plot_frontier(summary: pd.DataFrame, reference: tuple[float, float, float]) -> Figure:
    """Reward vs KL(pi || ref), one colour per loss, one marker per beta, 95% error bars;
    right: reward vs beta."""
    betas = sorted(summary["beta"].unique())
    marker = {b: MARKERS[i % len(MARKERS)] for i, b in enumerate(betas)}
    fig, (ax, ax_beta) = plt.subplots(1, 2, figsize=(13, 5.2), width_ratios=(1.6, 1))
    colours = plt.get_cmap("tab10")
    for i, (loss, group) in enumerate(summary.groupby("loss", sort=False)):
        group = group.sort_values("beta")
        colour = colours(i % 10)
        ax.plot(group["kl"], group["reward"], color=colour, alpha=0.5, lw=1)
        for _, row in group.iterrows():
            ax.errorbar(
                row["kl"],
                row["reward"],
                xerr=[[row["kl"] - row["kl_low"]], [row["kl_high"] - row["kl"]]],
                yerr=[[row["reward"] - row["reward_low"]], [row["reward_high"] - row["reward"]]],
                color=colour,
                marker=marker[row["beta"]],
                ms=6,
                elinewidth=0.8,
                capsize=0,
            )
        ax_beta.plot(group["beta"], group["reward"], color=colour, marker="o", ms=3, label=loss)
        ax_beta.fill_between(
            group["beta"], group["reward_low"], group["reward_high"], color=colour, alpha=0.15
        )
    mean, low, high = reference
    for axis in (ax, ax_beta):
        axis.axhline(mean, color="k", ls="--", lw=1)
        axis.axhspan(low, high, color="k", alpha=0.08, lw=0)
    ax.plot([0], [mean], "k*", ms=12)
    ax.set_xlabel("KL(policy || reference), nats per completion")
    ax.set_ylabel("true reward")
    ax.set_title("reward vs KL frontier (mean, 95% CI over seeds)")
    beta_handles = [
        Line2D([], [], color="grey", marker=marker[b], ls="", label=f"beta {b:g}") for b in betas
    ]
    beta_handles.append(Line2D([], [], color="k", marker="*", ls="--", label="reference (SFT)"))
    ax.legend(handles=beta_handles, loc="lower right", fontsize=8)
    ax_beta.set_xscale("log")
    ax_beta.set_xlabel("beta")
    ax_beta.set_ylabel("true reward")
    ax_beta.set_title("reward vs beta")
    ax_beta.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_loss_shapes(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Losses ``f(x)`` and their weights ``-f'(x)`` against ``x = beta rho``.

    ``curves`` maps a label to ``(x, f(x))``; the weight is a finite-difference derivative.
    """
    fig, (ax, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, (x, y) in curves.items():
        ax.plot(x, y, label=label)
        ax_grad.plot(x, -np.gradient(y, x), label=label)
    ax.set_xlabel("x = beta * rho")
    ax.set_ylabel("loss f(x)")
    ax.set_title("loss")
    ax_grad.set_xlabel("x = beta * rho")
    ax_grad.set_ylabel("-f'(x): weight of the pair's gradient")
    ax_grad.set_title("gradient weight")
    for axis in (ax, ax_grad):
        axis.axvline(0, color="k", lw=0.5)
        axis.legend(fontsize=8)
    fig.tight_layout()
    return fig
