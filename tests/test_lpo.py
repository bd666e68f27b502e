"""LPO: the learned drift, training with it, meta-training it, and its scripts and notebook."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from jaxopt_lab.launch import run_experiment
from jaxopt_lab.meta import ESConfig, save_pytree
from jaxopt_lab.meta.lpo import LPOSetting, make_lpo_fitness, meta_train
from jaxopt_lab.objectives import ppo_drift
from jaxopt_lab.objectives.learned_drift import (
    drift_features,
    drift_file_metadata,
    init_drift_weights,
    is_temporal,
    learned_drift,
    load_drift_params,
    lpo_features,
    make_drift_params,
    save_drift_params,
    start_drift_weights,
    zero_drift_weights,
)
from jaxopt_lab.rl import config_for, make_trainer
from jaxopt_lab.rl.algos import LPO

ROOT = Path(__file__).resolve().parents[1]
RATIOS = jnp.linspace(0.2, 3.0, 57)
ADVANTAGES = jnp.linspace(-4.0, 4.0, 33)


def random_drift(seed, ppo_init=False, scale=3.0):
    return make_drift_params(init_drift_weights(jax.random.key(seed), scale), ppo_init)


def test_features_are_the_papers_eight():
    r, a = jnp.array([0.5, 2.0]), jnp.array([1.5, -2.0])
    log_r = np.log([0.5, 2.0])
    base = np.stack([log_r, log_r**2, 1 - np.array([0.5, 2.0]), (1 - np.array([0.5, 2.0])) ** 2])
    expected = np.concatenate([base, base * np.array([1.5, -2.0])]).T
    np.testing.assert_allclose(lpo_features(r, a), expected, rtol=1e-6)
    np.testing.assert_array_equal(lpo_features(jnp.ones(3), jnp.array([-1.0, 0.0, 5.0])), 0.0)


@pytest.mark.parametrize("ppo_init", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirror_learning_conditions_for_random_weights(seed, ppo_init):
    """drift >= 0 on a grid; drift = 0 and d drift / dr = 0 at r = 1, for any weights."""
    drift = random_drift(seed, ppo_init)
    r, a = jnp.meshgrid(RATIOS, ADVANTAGES)
    values = learned_drift(r, a, drift)
    assert float(values.min()) >= 0.0
    assert float(values.max()) > 0.1  # a non-trivial drift away from r = 1
    ones = jnp.ones_like(ADVANTAGES)
    np.testing.assert_array_equal(learned_drift(ones, ADVANTAGES, drift), 0.0)
    grad = jax.vmap(jax.grad(learned_drift), in_axes=(0, 0, None))(ones, ADVANTAGES, drift)
    np.testing.assert_array_equal(grad, 0.0)


def test_ppo_init_with_zero_weights_is_the_ppo_drift():
    drift = make_drift_params(zero_drift_weights(), ppo_init=True)
    r, a = jnp.meshgrid(RATIOS, ADVANTAGES)
    ppo = ppo_drift(r, a, 0.2)
    # relu(ppo - 1e-4): PPO's drift up to the 1e-4 margin that pins the drift at r = 1
    values = learned_drift(r, a, drift)
    np.testing.assert_allclose(values, jax.nn.relu(ppo - 1e-4), rtol=1e-6, atol=1e-7)
    assert float(jnp.abs(values - ppo).max()) <= 1.01e-4
    grad_learned = jax.vmap(jax.grad(learned_drift), in_axes=(0, 0, None))
    grad_ppo = jax.vmap(jax.grad(lambda r, a: ppo_drift(r, a, 0.2)))
    where = ppo.ravel() > 1e-3  # away from the kinks, the slopes agree exactly
    np.testing.assert_array_equal(
        grad_learned(r.ravel(), a.ravel(), drift)[where], grad_ppo(r.ravel(), a.ravel())[where]
    )
    without = make_drift_params(zero_drift_weights(), ppo_init=False)
    np.testing.assert_array_equal(learned_drift(r, a, without), 0.0)


def temporal_drift(seed, ppo_init=False, scale=3.0):
    weights = init_drift_weights(jax.random.key(seed), scale, temporal=True)
    return make_drift_params(weights, ppo_init)


@pytest.mark.parametrize("progress", [0.0, 0.3, 1.0])
def test_temporal_drift_keeps_the_mirror_conditions_at_every_progress(progress):
    """TA-LPO: 16 features (LPO's and each times t), zero at r = 1; so drift = 0 and
    d drift / dr = 0 at r = 1 for any weights and any training progress."""
    r, a = jnp.array([0.5, 2.0]), jnp.array([1.5, -2.0])
    features = drift_features(r, a, progress, 16)
    np.testing.assert_allclose(features[:, 8:], progress * lpo_features(r, a), rtol=1e-6)
    drift = temporal_drift(0)
    assert is_temporal(drift) and not is_temporal(random_drift(0))
    ones = jnp.ones_like(ADVANTAGES)
    np.testing.assert_array_equal(learned_drift(ones, ADVANTAGES, drift, progress), 0.0)
    grad = jax.vmap(jax.grad(learned_drift), in_axes=(0, 0, None, None))
    np.testing.assert_array_equal(grad(ones, ADVANTAGES, drift, progress), 0.0)


def test_only_a_temporal_drift_sees_the_progress(tmp_path):
    r, a = jnp.meshgrid(RATIOS, ADVANTAGES)
    temporal, plain = temporal_drift(1), random_drift(1)
    early, late = (learned_drift(r, a, temporal, t) for t in (0.0, 0.9))
    assert float(jnp.abs(early - late).max()) > 0.1
    np.testing.assert_array_equal(learned_drift(r, a, plain, 0.0), learned_drift(r, a, plain, 0.9))
    path = tmp_path / "ta.npz"
    save_drift_params(path, temporal)
    loaded = load_drift_params(path)
    assert is_temporal(loaded) and loaded.weights["hidden"].shape == (16, 128)
    np.testing.assert_array_equal(learned_drift(r, a, loaded, 0.9), late)


def test_temporal_drift_sees_the_progress_of_training(tiny_config):
    """The trainer feeds the drift k / K: a temporal drift whose progress rows are zero trains
    exactly as the plain drift with the same first 8 rows, and non-zero rows change training."""
    plain = random_drift(2, scale=0.5)
    padded = {**plain.weights, "hidden": jnp.concatenate([plain.weights["hidden"]] * 2)}
    padded["hidden"] = padded["hidden"].at[8:].set(0.0)
    trained = []
    for drift in (plain, make_drift_params(padded)):
        config = tiny_config.replace(algo=LPO(drift_params=drift), total_timesteps=8 * 64)
        trainer = make_trainer(config)
        trained.append(jax.jit(trainer.train)(jax.random.key(0), config.hparams())[0].actor)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), *trained)
    moving = {**padded, "hidden": padded["hidden"].at[8:].set(plain.weights["hidden"] * 3.0)}
    config = tiny_config.replace(
        algo=LPO(drift_params=make_drift_params(moving)), total_timesteps=8 * 64
    )
    trainer = make_trainer(config)
    other = jax.jit(trainer.train)(jax.random.key(0), config.hparams())[0].actor
    assert not all(
        np.allclose(x, y)
        for x, y in zip(jax.tree.leaves(other), jax.tree.leaves(trained[0]), strict=True)
    )


# --- training with a drift that is an input -------------------------------------------------


@pytest.fixture(scope="module")
def lpo_config(tiny_config):
    zero = LPO(drift_params=make_drift_params(zero_drift_weights()))
    return tiny_config.replace(algo=zero, total_timesteps=16 * 64)


@pytest.fixture(scope="module")
def population():
    """Three drifts, stacked on a leading population axis."""
    drifts = [init_drift_weights(jax.random.key(i), 0.5) for i in range(3)]
    return jax.tree.map(lambda *x: jnp.stack(x), *drifts)


def test_population_vmap_equals_members_one_at_a_time(lpo_config, population):
    fitness = make_lpo_fitness(lpo_config, num_seeds=2)
    keys = jax.random.split(jax.random.key(7), 3)
    together = np.asarray(jax.jit(jax.vmap(fitness))(population, keys))
    single = jax.jit(fitness)
    alone = [
        float(single(jax.tree.map(lambda x, i=i: x[i], population), keys[i])) for i in range(3)
    ]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    assert len(set(np.round(together, 3))) > 1  # the drifts (and seeds) make a difference


def test_fitness_over_task_variants_is_the_mean_of_each_task(lpo_config, population):
    """TA-LPO's task distribution: variants (traced settings only) vmapped in one program;
    the fitness is the mean over tasks of each task's own fitness with the same key."""
    variant = lpo_config.replace(learning_rate=1e-2)
    key = jax.random.key(5)
    weights = jax.tree.map(lambda x: x[0], population)
    both = float(jax.jit(make_lpo_fitness(lpo_config, 2, variants=(variant,)))(weights, key))
    alone = [float(jax.jit(make_lpo_fitness(c, 2))(weights, key)) for c in (lpo_config, variant)]
    np.testing.assert_allclose(both, np.mean(alone), rtol=1e-5)
    assert alone[0] != alone[1]
    setting = LPOSetting(lpo_config, ESConfig(population_size=4), variants=(variant,))
    assert setting.validate().env_steps_per_generation == 4 * 2 * lpo_config.total_timesteps
    with pytest.raises(ValueError, match=r"variants\[0\]: differs from inner in a static"):
        LPOSetting(lpo_config, ESConfig(), variants=(lpo_config.replace(num_envs=8),)).validate()


def test_population_x_seeds_train_state_matches(lpo_config, population):
    """vmap over drift x seed of the trainer gives each member's own parameters."""
    trainer = make_trainer(lpo_config)
    base = lpo_config.hparams()

    def train(weights, key):
        hp = base.replace(algo=base.algo.replace(drift_params=make_drift_params(weights)))
        return trainer.train(key, hp)[0].actor

    keys = jax.random.split(jax.random.key(3), 2)
    grid = jax.jit(jax.vmap(jax.vmap(train, in_axes=(None, 0)), in_axes=(0, None)))(
        population, keys
    )
    one = jax.jit(train)(jax.tree.map(lambda x: x[1], population), keys[0])
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a[1, 0], b, rtol=1e-4, atol=1e-5), grid, one
    )


def test_lpo_without_a_drift_is_a_clear_error(lpo_config):
    with pytest.raises(ValueError, match="drift_file: algo lpo needs a learned drift"):
        config_for("CartPole-v1", "lpo")
    with pytest.raises(ValueError, match="drift_file: algo lpo needs a learned drift"):
        lpo_config.replace(algo=LPO())


def test_kill_and_resume_meta_training_is_bit_identical(lpo_config, tmp_path):
    setting = LPOSetting(
        inner=lpo_config.replace(total_timesteps=4 * 64),
        es=ESConfig(population_size=2, num_generations=3, checkpoint_every=1, sigma=0.5),
    )
    whole = meta_train(setting, tmp_path / "whole", progress=False)["result"]

    def kill(generation, _):
        if generation == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        meta_train(setting, tmp_path / "killed", progress=False, on_generation=kill)
    assert json.loads((tmp_path / "killed" / "summary.json").read_text())["status"] == (
        "interrupted"
    )
    ran = []
    summary = meta_train(
        setting, tmp_path / "killed", False, on_generation=lambda g, _: ran.append(g)
    )
    resumed = summary["result"]
    assert ran == [2] and summary["resumed_from_generation"] == 2
    jax.tree.map(np.testing.assert_array_equal, resumed.state, whole.state)
    np.testing.assert_array_equal(resumed.fitness, whole.fitness)
    drift = load_drift_params(tmp_path / "killed" / "mean.npz")
    jax.tree.map(np.testing.assert_array_equal, drift.weights, whole.mean)


def test_es_start_is_the_zero_drift_but_not_a_saddle():
    """All-zero weights are a saddle of OpenES: an antithetic pair is the same drift, so the
    fitness difference and the gradient estimate are exactly 0. The start point is the zero
    drift too, but an antithetic pair there gives two different drifts."""
    r, a = (x.ravel() for x in jnp.meshgrid(RATIOS, ADVANTAGES))
    eps = init_drift_weights(jax.random.key(1), 0.1)
    minus = jax.tree.map(jnp.negative, eps)

    def pair(start):
        plus_w, minus_w = (jax.tree.map(jnp.add, start, e) for e in (eps, minus))
        return (learned_drift(r, a, make_drift_params(w)) for w in (plus_w, minus_w))

    start = start_drift_weights(jax.random.key(0))
    np.testing.assert_array_equal(learned_drift(r, a, make_drift_params(start)), 0.0)
    plus, minus_drift = pair(start)
    assert float(jnp.abs(plus - minus_drift).max()) > 0.1
    plus, minus_drift = pair(zero_drift_weights())
    np.testing.assert_allclose(plus, minus_drift, atol=1e-6)
    assert float(plus.max()) > 1e-3


# --- drift files ------------------------------------------------------------------------------


def test_train_with_a_drift_file(lpo_config, tmp_path):
    path = tmp_path / "drift.npz"
    save_drift_params(path, random_drift(0, ppo_init=True, scale=0.5))
    loaded = load_drift_params(path)
    assert float(loaded.ppo_init) == 1.0
    config = lpo_config.replace(algo=LPO(drift_file=str(path)))
    summary = run_experiment(config, num_seeds=2, out=tmp_path / "run", progress=False)
    assert summary["status"] == "ok" and summary["algo"] == "lpo"
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert recorded["algo"] == {"name": "lpo", "drift_file": str(path)}


@pytest.mark.parametrize(
    ("weights", "metadata", "message"),
    [
        (
            {"hidden": jnp.zeros((8, 64)), "out": jnp.zeros((64, 1))},
            drift_file_metadata(False),
            r"parameter 'hidden' has shape \(8, 64\), expected \(8, 128\)",
        ),
        (
            {"hidden": jnp.zeros((6, 128)), "out": jnp.zeros((128, 1))},
            {**drift_file_metadata(False), "features": "lpo6: log r, 1 - r, A"},
            "features is 'lpo6: log r, 1 - r, A', expected 'lpo8",
        ),
        (
            {"w": jnp.zeros(3)},
            {"kind": "preference_loss"},
            "kind is 'preference_loss', expected 'lpo_drift'",
        ),
        (
            {"hidden": jnp.full((8, 128), jnp.nan), "out": jnp.zeros((128, 1))},
            drift_file_metadata(False),
            "1024 non-finite values in the drift weights 'hidden'",
        ),
    ],
)
def test_bad_drift_files_fail_before_compiling(tmp_path, weights, metadata, message):
    path = tmp_path / "bad.npz"
    save_pytree(path, weights, metadata)
    with pytest.raises(ValueError, match=message):
        LPO(drift_file=str(path))


def test_drift_file_is_only_for_lpo(tmp_path):
    path = tmp_path / "drift.npz"
    save_drift_params(path, random_drift(0))
    with pytest.raises(ValueError, match="drift_file: not a setting of algo ppo"):
        config_for("CartPole-v1", "ppo", drift_file=str(path))
    with pytest.raises(ValueError, match="no such file"):
        LPO(drift_file=str(tmp_path / "missing.npz"))
    nan_weights = jax.tree.map(lambda x: x * jnp.nan, zero_drift_weights())
    with pytest.raises(ValueError, match="non-finite values in the drift weights"):
        LPO(drift_params=make_drift_params(nan_weights))


# --- scripts and notebook ---------------------------------------------------------------------

TINY_META = [
    "--total-timesteps",
    "1024",
    "--num-envs",
    "8",
    "--num-generations",
    "3",
    "--population-size",
    "4",
    "--num-seeds",
    "1",
    "--no-progress",
]


def script(name, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / name), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def meta_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lpo") / "meta"
    result = script("lpo_meta.py", *TINY_META, "--cpu-devices", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "s/generation" in result.stdout and "inner env steps/s" in result.stdout
    assert "members over 2 device(s)" in result.stdout
    return out


def test_meta_script_writes_a_loadable_drift(meta_run):
    summary = json.loads((meta_run / "summary.json").read_text())
    assert len(summary["fitness_mean"]) == 3 and summary["population_size"] == 4
    assert summary["inner_steps_per_second"] > 0
    assert summary["devices"] == 2  # each evaluates 2 of the 4 members
    assert load_drift_params(meta_run / "mean.npz").weights["out"].shape == (128, 1)
    assert (meta_run / "fitness.png").stat().st_size > 0


def test_a_rerun_on_another_device_count_is_refused(meta_run, tmp_path):
    """The fitness bits depend on how many devices share the members: a resume on another
    count would not continue the same search."""
    killed = tmp_path / "killed"  # the record of a killed 2-device run
    killed.mkdir()
    (killed / "config.json").write_text((meta_run / "config.json").read_text())
    (killed / "summary.json").write_text(json.dumps({"kind": "es", "status": "running"}))
    rerun = script("lpo_meta.py", *TINY_META, "--cpu-devices", "1", "--out", str(killed))
    assert "another config (differs in devices)" in error_line(rerun)


def test_scripts_refuse_bad_input(tmp_path):
    line = error_line(script("lpo_meta.py", "--out", str(tmp_path / "m"), "--population-size", "5"))
    assert "population_size: got 5; OpenES's antithetic sampler needs an even population" in line
    line = error_line(script("train.py", "--algo", "lpo", "--out", str(tmp_path / "t")))
    assert "drift_file: algo lpo needs a learned drift: --drift-file PATH" in line
    assert not (tmp_path / "m").exists() and not (tmp_path / "t").exists()


def test_drift_notebook_executes(meta_run, monkeypatch):
    monkeypatch.setenv("JAXOPT_LAB_LPO_RUN", str(meta_run))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(ROOT / "notebooks" / "lpo_drift.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3


@pytest.mark.slow  # ~4 minutes on the 2-core CPU (brax Ant compiles slowly): pytest -m slow
def test_ant_setting_smoke(tmp_path):
    """The paper's Ant setting (population 32, brax Ant) at a tiny budget: it builds and runs."""
    out = tmp_path / "ant"
    result = script(
        "lpo_meta.py",
        "--setting",
        "ant",
        "--num-envs",
        "2",
        "--total-timesteps",
        "160",
        "--num-generations",
        "1",
        "--population-size",
        "2",
        "--no-progress",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "brax/ant" and np.isfinite(summary["fitness_mean"]).all()


def test_cpu_and_ant_settings_are_valid():
    from jaxopt_lab.meta.lpo import SETTINGS

    for setting in SETTINGS.values():
        setting.validate()
    ant = SETTINGS["ant"]
    assert ant.es.population_size == 32 and ant.inner.total_timesteps == 30_000_000
    assert (ant.inner.num_envs, ant.inner.update_epochs, ant.inner.num_minibatches) == (2048, 4, 32)
    assert (ant.inner.gamma, ant.inner.reward_scale) == (0.97, 10.0)
    assert replace(ant, num_seeds=2).env_steps_per_generation == 2 * 32 * 30_000_000
