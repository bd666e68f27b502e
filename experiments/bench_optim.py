"""Optimizer benchmark: time per jitted update on a ~10M-parameter pytree of mixed shapes.

    python experiments/bench_optim.py [--repeats 20]
    python experiments/bench_optim.py --scale 10      # ~100M parameters (an accelerator)

Each optimizer's median time per update (repetitions interleaved across optimizers, the
machine being shared) as a ratio to ``optax.adamw`` measured in the same run, and its state
bytes per parameter. SAM is reported against its base optimizer plus one extra gradient
evaluation of the same (cheap, quadratic) loss: the ratio is its overhead beyond that.
``adamp (fires)`` gets gradients orthogonal to every channel of its matrices and kernels, so
its projection fires everywhere (the other cases' gradients leave it off). ``cautious(adam)``
is C-AdamW through the generic :func:`~jaxopt_lab.optim.cautious` wrapper, next to the fused
``cautious_adamw``.
Issue 5's targets: cautious_adamw, lion <= 1.15x; adamp <= 1.6x; sam overhead <= 1.2x. On CPU
the ratios depend on XLA's scheduler (printed; README, Optimizers): start Python with
``XLA_FLAGS=--xla_cpu_enable_concurrency_optimized_scheduler=false`` for the sequential one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxopt_lab  # noqa: F401  (its CPU threefry lowering, before anything compiles)
from jaxopt_lab import optim
from jaxopt_lab.console import entry_point, fail, parse
from jaxopt_lab.fields import at_least


@dataclass(frozen=True)
class BenchArgs:
    repeats: int = 20
    """Timed calls of each update (interleaved; the median is reported)."""
    scale: int = 1
    """Multiplies the pytree's leaves (1: 10.1M parameters; 10: 101M)."""


SEQUENTIAL_SCHEDULER = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def scheduler() -> str:
    """Which XLA:CPU scheduler orders the kernels (the optimizers' CPU ratios depend on it)."""
    if jax.default_backend() != "cpu":
        return "not CPU"
    if SEQUENTIAL_SCHEDULER in os.environ.get("XLA_FLAGS", ""):
        return "sequential (XLA_FLAGS)"
    return "concurrency-optimised (XLA's default)"


def make_params(key: jax.Array, scale: int = 1) -> dict[str, jax.Array]:
    """``scale`` x (10 conv kernels 256x256x3x3, 4 matrices 1024x1024, 24 vectors of 1024):
    ``scale`` x 10.1M floats."""
    shapes = {f"conv{i}": (256, 256, 3, 3) for i in range(10 * scale)}
    shapes |= {f"dense{i}": (1024, 1024) for i in range(4 * scale)}
    shapes |= {f"bias{i}": (1024,) for i in range(24 * scale)}
    keys = jax.random.split(key, len(shapes))
    return {
        n: 0.05 * jax.random.normal(k, s) for (n, s), k in zip(shapes.items(), keys, strict=True)
    }


def quadratic_grad(params: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Gradient of 0.5 * sum(p^2) + sum(p): a cheap stand-in for a loss's gradient."""
    return jax.tree.map(lambda p: p + 1.0, params)


def tangent(params: dict[str, jax.Array], grads: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """``grads`` minus their radial component per output channel: AdamP's projection fires."""

    def leaf(p: jax.Array, g: jax.Array) -> jax.Array:
        if p.ndim < 2:
            return g
        axes = tuple(range(1, p.ndim))
        return g - p * jnp.sum(g * p, axes, keepdims=True) / jnp.sum(p * p, axes, keepdims=True)

    return jax.tree.map(leaf, params, grads)


def generic_cautious_adamw(lr: float) -> optax.GradientTransformation:
    """C-AdamW through the generic wrapper, which counts agreements on the Adam direction."""
    return optax.chain(
        optim.cautious(optax.scale_by_adam()),
        optax.add_decayed_weights(1e-2),
        optax.scale_by_learning_rate(lr),
    )


def make_step(opt: optax.GradientTransformation, extra_grad: bool) -> Callable:
    """One jitted update; ``extra_grad`` adds one ``quadratic_grad`` evaluation (SAM's base)."""

    def step(params, state, grads):
        if extra_grad:
            grads = quadratic_grad(jax.tree.map(lambda p, g: p + 1e-3 * g, params, grads))
        updates, state = opt.update(grads, state, params, grad_fn=quadratic_grad)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


@entry_point
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(BenchArgs, argv)
        for name in ("repeats", "scale"):
            at_least(1)(name, getattr(args, name))
    except ValueError as error:
        fail(str(error))
    params = make_params(jax.random.key(0), args.scale)
    grads = quadratic_grad(params)
    n = sum(p.size for p in jax.tree.leaves(params))
    lr = 1e-3
    fires = tangent(params, grads)
    cases = {
        "optax.adamw": (optax.adamw(lr, weight_decay=1e-2), False),
        "adam": (optim.adam(lr), False),
        "lion": (optim.lion(lr / 5, weight_decay=0.05), False),
        "cautious_adamw": (optim.cautious_adamw(lr), False),
        "cautious(adam)": (generic_cautious_adamw(lr), False),
        "cautious_lion": (optim.cautious_lion(lr / 5, weight_decay=0.05), False),
        "adamp": (optim.adamp(lr, weight_decay=1e-2), False),
        "adamp (fires)": (optim.adamp(lr, weight_decay=1e-2), False),
        "sgdp": (optim.sgdp(lr, momentum=0.9, weight_decay=1e-2), False),
        "adamw + 1 grad": (optax.adamw(lr, weight_decay=1e-2), True),
        "sam(adamw)": (optim.sam(optax.adamw(lr, weight_decay=1e-2)), False),
    }
    runs, times, state_bytes = {}, {}, {}
    for name, (opt, extra_grad) in cases.items():
        step = make_step(opt, extra_grad)
        p, s = jax.tree.map(jnp.copy, params), opt.init(params)
        state_bytes[name] = sum(x.nbytes for x in jax.tree.leaves(s))
        g = fires if name.endswith("(fires)") else grads
        p, s = jax.block_until_ready(step(p, s, g))  # compile
        runs[name], times[name] = [step, p, s, g], []
    for _ in range(args.repeats):
        for name, run in runs.items():
            step, p, s, g = run
            start = time.perf_counter()
            run[1:3] = jax.block_until_ready(step(p, s, g))
            times[name].append(time.perf_counter() - start)

    median = {name: float(np.median(t)) for name, t in times.items()}
    print(f"{n:,} parameters (float32), {args.repeats} interleaved repeats, median per update")
    print(f"  jax {jax.__version__}, backend {jax.default_backend()}, scheduler: {scheduler()}")
    print(f"  {'optimizer':16s} {'ms':>8s} {'x adamw':>8s} {'state B/param':>14s}")
    for name, t in median.items():
        ref = median["adamw + 1 grad"] if name == "sam(adamw)" else median["optax.adamw"]
        print(f"  {name:16s} {1e3 * t:8.2f} {t / ref:8.3f} {state_bytes[name] / n:14.2f}")
    print("  (sam(adamw)'s ratio is to 'adamw + 1 grad': its overhead beyond the second gradient)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
