"""The reward-vs-KL frontier experiment: losses x betas x seeds in one compiled program.

Seed ``s`` has its own data (``fold_in(key(seed), s)``: SFT reference, preference pairs, eval
prompts) and one training key shared by every loss and beta (common random numbers: the same
minibatches and evaluation samples), so a loss added in a later run, e.g. a discovered one,
meets exactly the data and noise the registry losses met. Run directory: ``config.json``,
``results.parquet`` (one row per loss, beta and seed), ``metrics.parquet`` (training curves),
``summary.json`` (per loss and beta: mean and 95% interval over seeds; timings), ``table.md``
and ``frontier.png``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from jaxopt_lab.compile_cache import cache_hits
from jaxopt_lab.device_memory import check_runs_fit
from jaxopt_lab.fields import at_least, positive, rng_seed
from jaxopt_lab.meta.pref_loss import load_learned_loss
from jaxopt_lab.pref.config import LabConfig, make_hparams
from jaxopt_lab.pref.data import LabData, build_lab
from jaxopt_lab.pref.losses import LabLoss, fixed_loss, registry_loss
from jaxopt_lab.pref.report import format_table, mean_ci, plot_frontier, summarize_sweep
from jaxopt_lab.pref.trainer import make_sweep
from jaxopt_lab.rundir import METRICS, check_out_dir, run_directory

DEFAULT_LOSSES = ("sigmoid", "hinge", "ipo", "kto_pair", "discopop", "padll", "cell", "aqfl")
DEFAULT_BETAS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class FrontierSpec:
    """What the experiment sweeps. ``loss_files`` are discovered losses (``--loss PATH``)."""

    losses: tuple[str, ...] = DEFAULT_LOSSES
    loss_files: tuple[str, ...] = ()
    betas: tuple[float, ...] = DEFAULT_BETAS
    num_seeds: int = 3
    seed: int = 0
    learning_rate: float = 1e-3


def resolve_losses(spec: FrontierSpec) -> tuple[list[str], list[LabLoss]]:
    """Labels and lab losses of ``spec``; ValueError for unknown names or bad loss files."""
    labels = list(spec.losses)
    try:
        losses = [registry_loss(name) for name in spec.losses]
    except ValueError as error:
        raise ValueError(f"losses: {error}") from None
    for path in spec.loss_files:
        loss, _ = load_learned_loss(path)
        labels.append(f"learned:{Path(path).name}")
        losses.append(fixed_loss(loss))
    if not losses:
        raise ValueError("losses: got none; name at least one loss or pass --loss PATH")
    if len(set(labels)) != len(labels):
        raise ValueError(f"losses: duplicate entries in {labels}")
    return labels, losses


def validate_frontier(
    config: LabConfig, spec: FrontierSpec, out: str | None
) -> tuple[Path, list[str], list[LabLoss]]:
    """Check every input; returns ``(run directory (not created), labels, losses)``."""
    config.validate()
    labels, losses = resolve_losses(spec)
    if not spec.betas:
        raise ValueError("betas: got none")
    positive("betas", np.asarray(spec.betas))
    if len(set(spec.betas)) != len(spec.betas):
        raise ValueError(f"betas: duplicate values in {spec.betas}")
    at_least(1)("num_seeds", spec.num_seeds)
    rng_seed("seed", spec.seed)
    positive("learning_rate", spec.learning_rate)
    runs = spec.num_seeds * len(losses) * len(spec.betas)
    shared = spec.num_seeds * config.lab_bytes()
    check_runs_fit("preference sweep", runs, config.run_bytes(), shared)
    default = Path("runs") / f"preference-{time.strftime('%Y%m%d-%H%M%S')}"
    return check_out_dir(out if out is not None else default), labels, losses


_build_labs = jax.jit(jax.vmap(build_lab, in_axes=(0, None)), static_argnums=1)


def build_labs(config: LabConfig, seed: int, num_seeds: int) -> tuple[LabData, jax.Array]:
    """``(labs, train_keys)``: one lab and one training key per data seed (leading axis)."""
    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(seed), s))(jnp.arange(num_seeds))
    lab_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    return jax.block_until_ready(_build_labs(lab_keys, config)), train_keys


def run_sweep(
    config: LabConfig,
    labels: list[str],
    losses: list[LabLoss],
    spec: FrontierSpec,
    log: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Train the sweep; returns ``(results, metrics, timings and reference stats)``."""
    say = log or (lambda message: None)
    started = time.perf_counter()
    labs, train_keys = build_labs(config, spec.seed, spec.num_seeds)
    build_seconds = time.perf_counter() - started
    say(f"built {spec.num_seeds} references and pair sets in {build_seconds:.1f} s")

    loss_index, beta = np.meshgrid(np.arange(len(losses)), spec.betas, indexing="ij")
    hparams = make_hparams(beta.ravel(), spec.learning_rate, loss_index.ravel())
    num_configs = loss_index.size
    keys = jnp.broadcast_to(train_keys[:, None], (spec.num_seeds, num_configs))
    sweep = make_sweep(config, losses)
    started, hits = time.perf_counter(), cache_hits()
    compiled = sweep.lower(keys, hparams, labs).compile()
    compile_seconds, hits = time.perf_counter() - started, cache_hits() - hits
    say(f"compiled {spec.num_seeds * num_configs} runs in one program in {compile_seconds:.1f} s")
    started = time.perf_counter()
    _, metrics = jax.block_until_ready(compiled(keys, hparams, labs))
    train_seconds = time.perf_counter() - started
    metrics = jax.tree.map(np.asarray, metrics)
    runs = spec.num_seeds * num_configs
    pairs = runs * config.num_steps * config.batch_size
    say(f"trained in {train_seconds:.1f} s ({pairs / train_seconds:,.0f} pairs/s)")

    seed_idx, config_idx = np.meshgrid(
        np.arange(spec.num_seeds), np.arange(num_configs), indexing="ij"
    )
    names = np.asarray(labels)[loss_index.ravel()]
    ref_reward = np.asarray(labs.stats["ref_reward"])
    results = pd.DataFrame(
        {
            "loss": names[config_idx.ravel()],
            "beta": beta.ravel()[config_idx.ravel()],
            "seed": seed_idx.ravel(),
            "reward": metrics["reward"].ravel(),
            "kl": metrics["kl"].ravel(),
            "ref_reward": ref_reward[seed_idx.ravel()],
            "train_loss": metrics["loss"][..., -1].ravel(),
            "accuracy": metrics["accuracy"][..., -1].ravel(),
            "margin": metrics["margin"][..., -1].ravel(),
            "nonfinite": metrics["nonfinite"].max(-1).ravel() > 0,
        }
    )
    num_logs = config.num_steps // config.log_every
    curves = pd.DataFrame(
        {
            "loss": np.repeat(results["loss"].to_numpy(), num_logs),
            "beta": np.repeat(results["beta"].to_numpy(), num_logs),
            "seed": np.repeat(results["seed"].to_numpy(), num_logs),
            "step": np.tile(np.arange(1, num_logs + 1) * config.log_every, runs),
            **{
                name: metrics[key].reshape(-1)
                for name, key in (
                    ("train_loss", "loss"),
                    ("accuracy", "accuracy"),
                    ("margin", "margin"),
                )
            },
        }
    )
    info = {
        "build_seconds": build_seconds,
        "compile_seconds": compile_seconds,
        "compile_cache_hits": hits,
        "train_seconds": train_seconds,
        "runs": runs,
        "pairs_trained": pairs,
        "pairs_per_second": pairs / train_seconds,
        "ref_reward": ref_reward.tolist(),
        "sft_loss": np.asarray(labs.stats["sft_loss"]).tolist(),
        "label_agreement": np.asarray(labs.stats["label_agreement"]).tolist(),
    }
    return results, curves, info


def run_frontier(
    config: LabConfig,
    spec: FrontierSpec,
    out: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Validate, sweep, and write the run directory (kind ``preference_frontier``); returns
    the summary (``summary.json``). Runs that went non-finite are left out of the table and
    listed; with none finite there is no table or figure, and the status says so."""
    path, labels, losses = validate_frontier(config, spec, out)
    wall_start = time.perf_counter()
    record = {"lab": config.to_dict(), "spec": dataclasses.asdict(spec), "loss_labels": labels}
    say = (lambda message: print(message, file=sys.stderr, flush=True)) if progress else None
    with run_directory(path, "preference_frontier", record) as summary:
        summary.update(losses=labels, betas=list(spec.betas), num_seeds=spec.num_seeds)
        results, curves, info = run_sweep(config, labels, losses, spec, say)
        results.to_parquet(path / "results.parquet", index=False)
        curves.to_parquet(path / METRICS, index=False)
        reference = mean_ci(np.asarray(info["ref_reward"]))
        finite = results[~results["nonfinite"] & np.isfinite(results[["reward", "kl"]]).all(axis=1)]
        bad = results.loc[results.index.difference(finite.index), ["loss", "beta", "seed"]]
        summary.update(
            info,
            status="nonfinite" if len(bad) else "ok",
            reference_reward={"mean": reference[0], "low": reference[1], "high": reference[2]},
            nonfinite_runs=bad.to_dict(orient="records"),
        )
        table_text = "no finite runs: nothing to tabulate"
        if len(finite):
            table = summarize_sweep(finite)
            table_text = format_table(table, reference)
            figure = plot_frontier(table, reference)
            figure.savefig(path / "frontier.png", dpi=120)
            plt.close(figure)
            summary["table"] = table.to_dict(orient="records")
        (path / "table.md").write_text(table_text + "\n")
        summary["wall_seconds"] = time.perf_counter() - wall_start
    return {**summary, "run_dir": str(path)}
