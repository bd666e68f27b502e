"""Preference-loss discovery: the monotone family, kill-and-resume, the saved loss as --loss."""

import json
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_pref_lab import TINY as TINY_LAB

from jaxopt_lab.meta import ESConfig, save_pytree
from jaxopt_lab.meta.pref_loss import dpo_init, family_value, load_learned_loss
from jaxopt_lab.pref.discovery import DiscoveryConfig, run_discovery
from jaxopt_lab.pref.frontier import FrontierSpec, resolve_losses

# the lab test's static config: in one pytest session the compiled lab builder is shared
TINY = DiscoveryConfig(betas=(0.1, 0.3), kl_prices=(0.05,), num_data_seeds=2, lab=TINY_LAB)
ES = ESConfig(
    population_size=4, num_generations=4, sigma=0.1, learning_rate=0.05, checkpoint_every=2
)


class KilledError(Exception):
    pass


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("discovery") / "full"
    return out, run_discovery(TINY, ES, out, held_out_seeds=1, progress=False)


def test_family_is_decreasing_in_x():
    x = jnp.linspace(-20.0, 20.0, 201)
    for seed in range(5):
        params = jax.tree.map(
            lambda p, s=seed: p + 2.0 * jax.random.normal(jax.random.key(s), p.shape), dpo_init()
        )
        slope = jax.vmap(jax.grad(lambda v, p=params: family_value(p, v)))(x)
        assert np.all(np.asarray(slope) <= 0.0)
    # the initial member weighs pairs almost as DPO does: -f'(x) close to sigma(-x)
    near = x[90:111]  # [-2, 2]
    weight = -jax.vmap(jax.grad(lambda v: family_value(dpo_init(), v)))(near)
    np.testing.assert_allclose(weight, jax.nn.sigmoid(-near), atol=0.15)


def test_killed_discovery_resumes_to_the_same_result(tmp_path, uninterrupted):
    _, full = uninterrupted
    out = tmp_path / "resumed"

    def kill_after_third(generation, fitness):
        if generation == 2:  # generation 3 done, the checkpoint holds generation 2
            raise KilledError

    with pytest.raises(KilledError):
        run_discovery(TINY, ES, out, 1, progress=False, on_generation=kill_after_third)
    assert (out / "checkpoints").is_dir() and not (out / "mean.npz").exists()
    assert json.loads((out / "summary.json").read_text())["status"] == "crashed"
    resumed = run_discovery(TINY, ES, out, held_out_seeds=1, progress=False)
    assert resumed["resumed_from_generation"] == 2
    jax.tree.map(np.testing.assert_array_equal, resumed["mean"], full["mean"])
    np.testing.assert_array_equal(resumed["fitness"], full["fitness"])
    assert np.all(np.isfinite(full["fitness"]))


def test_discovered_loss_loads_as_a_frontier_loss(uninterrupted):
    out, full = uninterrupted
    labels, losses = resolve_losses(FrontierSpec(losses=("sigmoid",), loss_files=(str(out),)))
    assert labels == ["sigmoid", f"learned:{out.name}"]
    rho = jnp.array([-1.0, 0.0, 2.0])
    zero = jnp.zeros(3)
    value = losses[1](rho, zero, zero, zero, 0.5, ())
    np.testing.assert_allclose(value, family_value(full["mean"], 0.5 * rho), rtol=1e-6)


def test_discovery_refuses_another_config_in_its_directory(uninterrupted):
    out, _ = uninterrupted
    for es in (replace(ES, sigma=0.2), ES):
        with pytest.raises(ValueError, match="already holds a finished run"):
            run_discovery(TINY, es, out, held_out_seeds=1, progress=False)


def test_loss_file_of_another_kind_is_rejected(tmp_path):
    save_pytree(tmp_path / "drift.npz", {"w": jnp.zeros(3)}, {"family": "lpo_drift"})
    with pytest.raises(ValueError, match=r"loss checkpoint .*family"):
        load_learned_loss(tmp_path / "drift.npz")
    with pytest.raises(ValueError, match="not found"):
        load_learned_loss(tmp_path / "nothing-here")
