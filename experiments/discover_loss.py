"""Discover a preference loss with OpenAI-ES on the lab (issue 6, part 4).

python experiments/discover_loss.py --out runs/discover          # default budget, resumable
python experiments/discover_loss.py --out runs/discover          # again: resumes if killed
python experiments/preference.py --losses sigmoid discopop --loss runs/discover

Writes the ES run (checkpoints/, history.json, mean.npz = the discovered loss), fitness.png,
loss_shape.png (learned vs DPO vs DiscoPOP) and summary.json (fitness curve, held-out scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab.analysis import plot_fitness_curve
from jaxopt_lab.compile_cache import use_compile_cache
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.meta import ESConfig
from jaxopt_lab.meta.pref_loss import dpo_init, family_value
from jaxopt_lab.objectives import discopop_loss
from jaxopt_lab.pref.discovery import DiscoveryConfig, run_discovery, validate_discovery
from jaxopt_lab.pref.report import plot_loss_shapes

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
    """Show a progress bar over the generations."""
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    es: ESConfig = DEFAULT_ES


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(DiscoverArgs, argv)
        _, out = validate_discovery(args.discovery, args.es, args.out, args.held_out_seeds)
    except ValueError as error:
        fail(str(error))
    use_compile_cache()
    summary = run_discovery(args.discovery, args.es, out, args.held_out_seeds, args.progress)
    fitness = summary["fitness"]
    plot_fitness_curve(fitness, "fitness: mean_lambda max_beta (R - lambda KL)").savefig(
        out / "fitness.png", dpi=120
    )
    x = np.linspace(-4, 4, 401)
    zero = jnp.zeros_like(x)
    shapes = {
        "DPO: -log sigma(x)": np.asarray(jax.nn.softplus(-x)),
        "DiscoPOP (tau 0.05)": np.asarray(discopop_loss(x, zero, zero, zero, beta=1.0)),
        "family at init": np.asarray(family_value(dpo_init(), x)),
        "discovered": np.asarray(family_value(summary["mean"], x)),
    }
    plot_loss_shapes({k: (x, v) for k, v in shapes.items()}).savefig(
        out / "loss_shape.png", dpi=120
    )
    curve = np.asarray(summary["fitness_mean"])
    print(f"population-mean fitness, first -> last generation: {curve[0]:.4f} -> {curve[-1]:.4f}")
    print("held-out score mean_lambda max_beta (R - lambda KL):")
    for name, score in summary["held_out_score"].items():
        print(f"  {name:12s} {score:.4f}")
    print(f"discovered loss: {out / 'mean.npz'}  (use with experiments/preference.py --loss)")
    return 0 if summary["status"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
