"""The on-policy trainer: vmap over seeds and hyperparameters, chunks, determinism, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.experiment import SeedBatch, chunk_size
from jaxopt_lab.experiment.batch import broadcast_hparams
from jaxopt_lab.rl import TrainConfig, make_train, make_trainer

NUM_SEEDS = 3


@pytest.fixture(scope="module")
def batch(tiny_config):
    batch = SeedBatch(tiny_config, NUM_SEEDS, seed=7, chunk=16)
    batch.compile()
    return batch


@pytest.fixture(scope="module")
def batch_run(batch):
    return batch.run()


def test_metrics_have_one_row_per_update(tiny_config, batch_run):
    _, metrics, _ = batch_run
    for name, values in metrics.items():
        assert values.shape == (NUM_SEEDS, tiny_config.num_updates), name
    np.testing.assert_array_equal(metrics["update"][0], np.arange(tiny_config.num_updates))
    assert metrics["env_steps"][0, -1] == tiny_config.num_updates * tiny_config.batch_size
    assert not metrics["nonfinite"].any()


def test_same_seed_is_bit_identical(batch, batch_run):
    state, metrics, _ = batch.run()
    np.testing.assert_array_equal(metrics["loss"], batch_run[1]["loss"])
    jax.tree.map(np.testing.assert_array_equal, state.params, batch_run[0].params)
    first, _ = batch.evaluate(state)
    second, _ = batch.evaluate(batch_run[0])
    np.testing.assert_array_equal(first, second)


def test_vmapped_seeds_equal_runs_one_at_a_time(tiny_config, batch, batch_run):
    train = jax.jit(make_train(tiny_config))
    hp = tiny_config.hparams()
    for i in range(NUM_SEEDS):
        state, metrics = train(batch.train_keys[i], hp)
        np.testing.assert_allclose(metrics["loss"], batch_run[1]["loss"][i], rtol=1e-4, atol=1e-5)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5),
            state.params,
            batch_run[0].params,
        )


def test_chunks_compose_to_one_program(tiny_config, batch, batch_run):
    whole = SeedBatch(tiny_config, NUM_SEEDS, seed=7, chunk=tiny_config.num_updates)
    state, metrics, _ = whole.run()
    np.testing.assert_allclose(metrics["loss"], batch_run[1]["loss"], rtol=1e-5, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        state.params,
        batch_run[0].params,
    )


def test_hyperparameters_vmap_like_seeds(tiny_config):
    """One program sweeps learning rate and clip eps; each lane equals its own run."""
    trainer = make_trainer(tiny_config)
    hp = broadcast_hparams(tiny_config.hparams(), 2)._replace(
        learning_rate=jnp.array([1e-3, 1e-2]), clip_eps=jnp.array([0.1, 0.3])
    )
    keys = jnp.stack([jax.random.key(0)] * 2)
    _, swept = jax.jit(jax.vmap(trainer.train))(keys, hp)
    assert not np.allclose(swept["loss"][0], swept["loss"][1])
    for lane in range(2):
        single = tiny_config.replace(
            learning_rate=float(hp.learning_rate[lane]), clip_eps=float(hp.clip_eps[lane])
        )
        _, metrics = jax.jit(make_train(single))(jax.random.key(0), single.hparams())
        np.testing.assert_allclose(metrics["loss"], swept["loss"][lane], rtol=1e-4, atol=1e-5)


def test_chunk_size_divides_the_run():
    assert chunk_size(976) == 61
    assert chunk_size(977) in (1, 977)
    for n in (1, 7, 64, 1220):
        assert n % chunk_size(n) == 0


def test_cartpole_learning_curve_rises():
    config = TrainConfig(total_timesteps=60_000)
    batch = SeedBatch(config, 2, seed=0, chunk=config.num_updates)
    _, metrics, _ = batch.run()
    returns = metrics["episode_return"]
    early, late = np.nanmean(returns[:, :10]), np.nanmean(returns[:, -10:])
    assert late > early + 100, (early, late)


def test_continuous_actions_train_finitely():
    config = TrainConfig(
        env="Pendulum-v1",
        num_envs=4,
        num_steps=32,
        total_timesteps=4 * 32 * 8,
        num_minibatches=4,
        normalize_observations=True,
        normalize_rewards=True,
    )
    batch = SeedBatch(config, 2, chunk=config.num_updates)
    state, metrics, _ = batch.run()
    assert state.params["params"]["log_std"].shape == (2, 1)
    assert np.isfinite(metrics["loss"]).all()
    returns, _ = batch.evaluate(state)
    assert returns.shape == (2,) and np.all((returns < 0) & (returns > -2000))
    assert batch.trainer.obs_stats(state).mean.shape == (2, 3)


@pytest.mark.filterwarnings("ignore:Brax System:UserWarning")
def test_brax_env_trains():
    config = TrainConfig(
        env="brax/inverted_pendulum",
        num_envs=4,
        num_steps=16,
        total_timesteps=4 * 16 * 2,
        num_minibatches=2,
        eval_episodes=2,
        normalize_observations=True,
    )
    batch = SeedBatch(config, 2, chunk=config.num_updates)
    state, metrics, _ = batch.run()
    assert np.isfinite(metrics["loss"]).all()
    assert np.isfinite(batch.evaluate(state)[0]).all()


def test_presets_are_valid_and_reach_the_cli():
    from jaxopt_lab.experiment.cli import parse_train_args
    from jaxopt_lab.rl import PRESETS, config_for

    for env in PRESETS:
        config_for(env).validate()
    args = parse_train_args(["--env", "Pendulum-v1", "--gamma", "0.9"])
    assert args.num_envs == PRESETS["Pendulum-v1"]["num_envs"] and args.gamma == 0.9
    assert parse_train_args([]).train_config() == TrainConfig()


def test_pair_presets_apply_to_their_pair_only_and_yield_to_flags():
    from jaxopt_lab.experiment.cli import parse_train_args
    from jaxopt_lab.rl import config_for
    from jaxopt_lab.rl.config import PAIR_PRESETS

    brax_dpo = PAIR_PRESETS[("brax/inverted_pendulum", "dpo")]["dpo_alpha"]
    assert brax_dpo != TrainConfig.dpo_alpha
    assert config_for("brax/inverted_pendulum", "dpo").dpo_alpha == brax_dpo
    assert config_for("brax/inverted_pendulum", "ppo").dpo_alpha == TrainConfig.dpo_alpha
    assert config_for("CartPole-v1", "dpo").dpo_alpha == TrainConfig.dpo_alpha
    assert config_for("brax/inverted_pendulum", "dpo", dpo_alpha=2.0).dpo_alpha == 2.0
    args = ["--env", "brax/inverted_pendulum", "--algo", "dpo"]
    assert parse_train_args(args).dpo_alpha == brax_dpo
    assert parse_train_args([*args, "--dpo-alpha", "1.5"]).dpo_alpha == 1.5
    for env, algo in PAIR_PRESETS:
        config_for(env, algo).validate()
