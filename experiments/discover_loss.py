"""Discover a preference loss with OpenAI-ES on the lab (issue 6, part 4).

python experiments/discover_loss.py --out runs/discover          # default budget, resumable
python experiments/discover_loss.py --out runs/discover          # again: resumes if killed
python experiments/preference.py --losses sigmoid discopop --loss runs/discover

Writes the ES run (checkpoints/, history.json, mean.npz = the discovered loss), fitness.png,
loss_shape.png (learned vs DPO vs DiscoPOP) and summary.json (fitness curve, held-out scores).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import tyro

import jaxopt_lab  # noqa: F401  (sets the XLA flags before JAX starts)
from jaxopt_lab.experiment.cli import fail
from jaxopt_lab.experiment.run import check_run_dir, write_json
from jaxopt_lab.meta import ESConfig
from jaxopt_lab.meta.pref_loss import dpo_init, family_value
from jaxopt_lab.objectives import discopop_loss
from jaxopt_lab.pref.discovery import (
    DiscoveryConfig,
    check_discovery_dir,
    run_discovery,
    score_losses,
)
from jaxopt_lab.pref.discovery import learned_lab_loss as family_loss
from jaxopt_lab.pref.losses import registry_loss
from jaxopt_lab.pref.report import plot_fitness_curve, plot_loss_shapes

matplotlib.use("Agg")

DEFAULT_ES = ESConfig(
    population_size=16, num_generations=20, sigma=0.1, learning_rate=0.05, checkpoint_every=4
)


@dataclass(frozen=True)
class DiscoverArgs:
    """Evolve the loss family's parameters to maximise the lab's frontier score."""

    out: str = "runs/discover-loss"
    """Run directory; an unfinished run there (same flags) is resumed from its checkpoint."""
    held_out_seeds: int = 3
    """Fresh data seeds on which DPO, DiscoPOP and the discovered loss are scored at the end."""
    progress: bool = True
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    es: ESConfig = DEFAULT_ES


def main() -> int:
    args = tyro.cli(DiscoverArgs)
    try:
        args.discovery.validate()
        args.es.validate()
        if args.held_out_seeds < 1:
            raise ValueError(f"held_out_seeds: got {args.held_out_seeds}; must be >= 1")
        out = check_run_dir(args.out)
        check_discovery_dir(out, args.discovery, args.es)
    except ValueError as error:
        fail(str(error))
    result = run_discovery(args.discovery, args.es, out, progress=args.progress)
    fitness = result["fitness"]
    plot_fitness_curve(fitness).savefig(out / "fitness.png", dpi=120)

    x = np.linspace(-4, 4, 401)
    zero = jnp.zeros_like(x)
    shapes = {
        "DPO: -log sigma(x)": np.asarray(jax.nn.softplus(-x)),
        "DiscoPOP (tau 0.05)": np.asarray(discopop_loss(x, zero, zero, zero, beta=1.0)),
        "family at init": np.asarray(family_value(dpo_init(), x)),
        "discovered": np.asarray(family_value(result["mean"], x)),
    }
    plot_loss_shapes({k: (x, v) for k, v in shapes.items()}).savefig(
        out / "loss_shape.png", dpi=120
    )

    held_out_seed = args.discovery.data_seed + 1000
    scores = score_losses(
        args.discovery,
        [
            (registry_loss("sigmoid"), ()),
            (registry_loss("discopop"), ()),
            (family_loss, dpo_init()),
            (family_loss, result["mean"]),
        ],
        held_out_seed,
        args.held_out_seeds,
    )
    names = ("sigmoid", "discopop", "family_init", "discovered")
    summary = {
        "fitness_mean": fitness.mean(1).tolist(),
        "fitness_max": fitness.max(1).tolist(),
        "generation_seconds": result["seconds"].tolist(),
        "compile_seconds": result["compile_seconds"],
        "held_out": {"seed": held_out_seed, "num_data_seeds": args.held_out_seeds},
        "held_out_score": dict(zip(names, scores.tolist(), strict=True)),
        "discovered_params": {k: v.tolist() for k, v in result["mean"].items()},
        "config": {"discovery": args.discovery.to_dict(), "es": dataclasses.asdict(args.es)},
    }
    write_json(out / "summary.json", summary)
    curve = fitness.mean(1)
    print(f"population-mean fitness, first -> last generation: {curve[0]:.4f} -> {curve[-1]:.4f}")
    print("held-out score mean_lambda max_beta (R - lambda KL):")
    for name, score in zip(names, scores, strict=True):
        print(f"  {name:12s} {score:.4f}")
    print(f"discovered loss: {out / 'mean.npz'}  (use with experiments/preference.py --loss)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
