"""The generic evolution-strategy engine (jaxopt_lab.meta.es) on a cheap quadratic fitness."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.meta import ESConfig, evolve, load_pytree
from jaxopt_lab.meta.es import es_outputs, to_minimised

ROOT = Path(__file__).resolve().parents[1]
TARGET = {"w": jnp.arange(4.0).reshape(2, 2), "b": jnp.array([1.0, -1.0])}
START = jax.tree.map(jnp.zeros_like, TARGET)


def quadratic(params, key):
    """Higher is better; noisy, so the evaluation key matters."""
    error = sum(jax.tree.leaves(jax.tree.map(lambda p, t: jnp.sum((p - t) ** 2), params, TARGET)))
    return -error + 0.01 * jax.random.normal(key)


SMALL = ESConfig(population_size=8, num_generations=6, sigma=0.1, learning_rate=0.1)


def assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, a, b)


def test_maximises_fitness():
    config = ESConfig(population_size=16, num_generations=150, sigma=0.1, learning_rate=0.05)
    result = evolve(quadratic, START, config, progress=False)
    curve = result.fitness.mean(axis=1)
    assert curve[0] < -5.0 and curve[-10:].mean() > -0.5  # from -16 at the zero start
    jax.tree.map(lambda m, t: np.testing.assert_allclose(m, t, atol=0.1), result.mean, TARGET)


def test_non_finite_fitness_counts_as_worst():
    minimised = to_minimised(jnp.array([1.0, jnp.nan, 3.0, -jnp.inf]))
    np.testing.assert_array_equal(minimised, [-1.0, -1.0, -3.0, -1.0])
    np.testing.assert_array_equal(to_minimised(jnp.array([jnp.nan, jnp.nan])), [0.0, 0.0])


def test_kill_and_resume_is_bit_identical(tmp_path):
    config = replace(SMALL, checkpoint_every=2)
    whole = evolve(quadratic, START, config, tmp_path / "whole", progress=False)
    assert whole.resumed_from == 0

    def kill(generation, fitness):
        if generation == 4:  # after the checkpoint at 4 generations, before the one at 6
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evolve(quadratic, START, config, tmp_path / "killed", progress=False, on_generation=kill)
    ran = []
    resumed = evolve(
        quadratic,
        START,
        config,
        tmp_path / "killed",
        progress=False,
        on_generation=lambda g, _: ran.append(g),
    )
    assert ran == [4, 5] and resumed.resumed_from == 4  # resumed, not started over
    assert_trees_equal(resumed.state, whole.state)
    np.testing.assert_array_equal(resumed.fitness, whole.fitness)
    assert np.isnan(resumed.seconds).sum() == 0


def test_outputs_are_the_mean_and_every_members_fitness(tmp_path):
    result = evolve(quadratic, START, SMALL, progress=False)
    curves = es_outputs(tmp_path, result, {"kind": "toy"})
    mean, metadata = load_pytree(tmp_path / "mean.npz", START, expect={"kind": "toy"})
    assert_trees_equal(mean, result.mean)
    assert metadata == {"kind": "toy"}
    frame = pd.read_parquet(tmp_path / "metrics.parquet")
    assert len(frame) == SMALL.num_generations * SMALL.population_size
    np.testing.assert_array_equal(
        frame.pivot(index="generation", columns="member", values="fitness"), result.fitness
    )
    np.testing.assert_allclose(curves["fitness_mean"], result.fitness.mean(axis=1), rtol=1e-6)
    assert curves["resumed_from_generation"] == 0 and curves["nonfinite_fitness"] == 0
    assert curves["compile_cache_hits"] == 0  # the test session keeps the cache off


def test_a_run_directory_of_another_config_is_refused(tmp_path):
    from jaxopt_lab.rundir import check_out_dir, run_directory

    record = {"es": {"sigma": 0.1}}
    with pytest.raises(KeyboardInterrupt), run_directory(tmp_path / "es", "es", record):
        raise KeyboardInterrupt
    assert check_out_dir(tmp_path / "es", config=record) == tmp_path / "es"  # resumable
    with pytest.raises(ValueError, match=r"another config \(differs in es\.sigma\)"):
        check_out_dir(tmp_path / "es", config={"es": {"sigma": 0.2}})


def test_batched_evaluation_matches_vmap():
    batched = replace(SMALL, eval_batch_size=4)
    a = evolve(quadratic, START, SMALL, progress=False)
    b = evolve(quadratic, START, batched, progress=False)
    np.testing.assert_allclose(a.fitness, b.fitness, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("population_size", 7, "even population"),
        ("population_size", 0, "even population"),
        ("fitness_shaping", "rank", "allowed: centered_rank, z_score"),
        ("eval_batch_size", 3, "must divide population_size"),
        ("sigma", 0.0, "sigma: got 0.0"),
        ("learning_rate_limit", 1.0, "learning_rate_limit"),
        ("num_generations", 0, "num_generations"),
    ],
)
def test_bad_config_fails_before_compiling(field, value, match):
    config = replace(SMALL, **{field: value})
    with pytest.raises(ValueError, match=match):
        evolve(quadratic, START, config, progress=False)


def test_members_sharded_over_devices_give_the_same_search_up_to_rounding():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "sharded_es.py")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["devices"] == 4 and report["mesh_sizes"] == [2, 3, 2]
    assert report["spec"] == "P('members',)" and report["devices_used"] == 4
    assert report["result_devices"] == 4
    assert report["max_fitness_difference"] < 1e-3  # of fitness ~ -16 .. -1: rounding only
    assert report["max_mean_difference"] < 1e-3
