"""Discovering a preference loss on the lab with OpenAI-ES (:func:`jaxopt_lab.meta.evolve`).

The searched loss is :mod:`jaxopt_lab.meta.pref_loss`'s monotone family ``f_theta(beta rho)``,
started at DPO. The fitness of ``theta`` scores its whole reward-vs-KL frontier rather than one
point of it: train with ``f_theta`` at every beta of a grid on every discovery data seed, read
true reward ``R`` and ``KL(pi || ref)`` on held-out prompts, and average over KL prices
``lambda`` the best ``R - lambda KL`` over the grid (means over data seeds),

    F(theta) = mean_lambda max_beta [ mean_s R_s(beta) - lambda mean_s KL_s(beta) ].

Taking the best beta makes ``F`` (nearly) blind to a mere rescaling of ``x`` (which only moves
points along DPO's own frontier); it rewards losses whose frontier lies higher. All population
members, betas and data seeds train in one vmapped program per generation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.device_memory import check_runs_fit
from jaxopt_lab.fields import at_least, positive, rng_seed
from jaxopt_lab.meta import ESConfig, evolve
from jaxopt_lab.meta.es import es_outputs
from jaxopt_lab.meta.pref_loss import dpo_init, learned_preference_loss, metadata
from jaxopt_lab.pref.config import LabConfig, PrefHParams
from jaxopt_lab.pref.data import LabData
from jaxopt_lab.pref.frontier import build_labs
from jaxopt_lab.pref.losses import LabLoss, registry_loss
from jaxopt_lab.pref.trainer import make_train
from jaxopt_lab.rundir import CHECKPOINTS, check_out_dir, run_directory


def learned_lab_loss(
    pc: jax.Array, pr: jax.Array, rc: jax.Array, rr: jax.Array, beta: jax.Array, loss_params: Any
) -> jax.Array:
    """The family as a lab loss whose parameters are traced (``hparams.loss_params``)."""
    return learned_preference_loss(pc, pr, rc, rr, beta=beta, params=loss_params)


@dataclass(frozen=True)
class DiscoveryConfig:
    """What the discovery trains on and how it scores a loss."""

    betas: tuple[float, ...] = (0.05, 0.1, 0.25)
    """Betas every candidate loss trains at (its frontier's points)."""
    kl_prices: tuple[float, ...] = (0.02, 0.05, 0.1)
    """KL prices lambda the score averages over: mean_lambda max_beta (R - lambda KL)."""
    num_data_seeds: int = 2
    """Data seeds every candidate loss trains on."""
    data_seed: int = 1000
    """Discovery data seeds are data_seed .. data_seed + num_data_seeds - 1 (the frontier
    experiment's default seeds 0 .. 4 stay held out)."""
    learning_rate: float = 1e-3
    """Preference-training learning rate."""
    lab: LabConfig = field(default_factory=lambda: LabConfig(num_steps=100, eval_prompts=128))

    def validate(self) -> DiscoveryConfig:
        self.lab.validate()
        for name in ("betas", "kl_prices"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name}: got none; need at least one value")
            positive(name, np.asarray(values))
        at_least(1)("num_data_seeds", self.num_data_seeds)
        rng_seed("data_seed", self.data_seed)
        positive("learning_rate", self.learning_rate)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def frontier_score(reward: jax.Array, kl: jax.Array, kl_prices: jax.Array) -> jax.Array:
    """``mean_lambda max_beta (R - lambda KL)`` from ``(seeds, betas)`` arrays."""
    reward, kl = reward.mean(0), kl.mean(0)
    return jnp.max(reward[None] - kl_prices[:, None] * kl[None], axis=1).mean()


def make_fitness(
    config: DiscoveryConfig, labs: LabData, loss: LabLoss = learned_lab_loss
) -> Callable[[Any, jax.Array], jax.Array]:
    """``fitness(loss_params, key) -> F`` of ``loss`` (default: the family), pure, for
    :func:`jaxopt_lab.meta.evolve`."""
    train = make_train(config.lab, (loss,))
    betas = jnp.asarray(config.betas, jnp.float32)
    prices = jnp.asarray(config.kl_prices, jnp.float32)
    per_beta = jax.vmap(train, in_axes=(None, PrefHParams(0, None, None, None), None))
    per_seed = jax.vmap(per_beta, in_axes=(0, None, 0))

    def fitness(loss_params: Any, key: jax.Array) -> jax.Array:
        keys = jax.random.split(key, config.num_data_seeds)
        hparams = PrefHParams(betas, jnp.float32(config.learning_rate), jnp.int32(0), loss_params)
        _, metrics = per_seed(keys, hparams, labs)
        return frontier_score(metrics["reward"], metrics["kl"], prices)

    return fitness


def discovery_record(config: DiscoveryConfig, es: ESConfig, held_out_seeds: int) -> dict:
    """What the run directory records as its config (a resumed run must match it)."""
    return {
        "problem": "preference_loss",
        "discovery": config.to_dict(),
        "es": dataclasses.asdict(es),
        "held_out_seeds": held_out_seeds,
    }


def validate_discovery(
    config: DiscoveryConfig, es: ESConfig, out: str | Path, held_out_seeds: int = 3
) -> tuple[dict, Path]:
    """Check every input before anything compiles; returns the run's config record and its
    directory (not created; a killed run of the same settings there is resumable)."""
    config.validate()
    es.validate()
    at_least(1)("held_out_seeds", held_out_seeds)
    members = es.eval_batch_size or es.population_size
    runs = members * len(config.betas) * config.num_data_seeds
    shared = config.num_data_seeds * config.lab.lab_bytes()
    check_runs_fit("discovery generation", runs, config.lab.run_bytes(), shared)
    record = discovery_record(config, es, held_out_seeds)
    return record, check_out_dir(out, config=record)


def run_discovery(
    config: DiscoveryConfig,
    es: ESConfig,
    out: str | Path,
    held_out_seeds: int = 3,
    progress: bool = True,
    on_generation: Callable[[int, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Build the discovery labs, evolve the loss and score it on held-out data seeds, in the
    run directory ``out`` (kind ``es``: ``checkpoints/``, ``metrics.parquet``, ``mean.npz``,
    the discovered loss loadable with ``--loss out``, and ``summary.json``). A killed run of
    the same settings there is resumed, one of other settings refused. Returns the summary
    with the final mean's parameters (``mean``) and the fitness log (``fitness``)."""
    record, path = validate_discovery(config, es, out, held_out_seeds)
    labs, _ = build_labs(config.lab, config.data_seed, config.num_data_seeds)
    with run_directory(path, "es", record) as summary:
        result = evolve(
            make_fitness(config, labs), dpo_init(), es, path / CHECKPOINTS, progress, on_generation
        )
        meta = {**metadata(), "betas": list(config.betas), "kl_prices": list(config.kl_prices)}
        summary.update(es_outputs(path, result, meta))
        mean = jax.tree.map(np.asarray, result.mean)
        summary.update(held_out_scores(config, mean, held_out_seeds))
        summary["discovered_params"] = {k: v.tolist() for k, v in mean.items()}
        if summary["nonfinite_fitness"]:
            summary["status"] = "nonfinite"
    return {**summary, "run_dir": str(path), "mean": mean, "fitness": result.fitness}


def held_out_scores(config: DiscoveryConfig, mean: Any, num_data_seeds: int) -> dict[str, Any]:
    """``F`` of DPO, DiscoPOP, the family's start and the discovered loss on data seeds
    ``data_seed + 1000 ..`` (never used in the discovery)."""
    seed = config.data_seed + 1000
    losses = {
        "sigmoid": (registry_loss("sigmoid"), ()),
        "discopop": (registry_loss("discopop"), ()),
        "family_init": (learned_lab_loss, dpo_init()),
        "discovered": (learned_lab_loss, mean),
    }
    scores = score_losses(config, list(losses.values()), seed, num_data_seeds)
    return {
        "held_out": {"seed": seed, "num_data_seeds": num_data_seeds},
        "held_out_score": dict(zip(losses, scores.tolist(), strict=True)),
    }


def score_losses(
    config: DiscoveryConfig,
    losses: list[tuple[LabLoss, Any]],
    seed: int,
    num_data_seeds: int,
) -> np.ndarray:
    """``F`` of each ``(loss, loss_params)`` on data seeds ``seed ..`` held out from the
    discovery (one evaluation key shared by all losses)."""
    labs, _ = build_labs(config.lab, seed, num_data_seeds)
    held_out = dataclasses.replace(config, num_data_seeds=num_data_seeds)
    key = jax.random.key(seed)
    scores = []
    for loss, params in losses:
        fitness = jax.jit(make_fitness(held_out, labs, loss))
        scores.append(float(fitness(params, key)))
    return np.array(scores)
