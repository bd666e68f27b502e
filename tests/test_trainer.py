"""The on-policy trainer: vmap over seeds, hyperparameters and environment parameters,
chunks, determinism, learning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.fields import TracedValue
from jaxopt_lab.launch import Population, broadcast_hparams, chunk_size
from jaxopt_lab.rl import TrainConfig, config_for, make_train, make_trainer

NUM_SEEDS = 3


@pytest.fixture(scope="module")
def batch(tiny_config):
    batch = Population(tiny_config, NUM_SEEDS, seed=7, chunk=16)
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
    jax.tree.map(np.testing.assert_array_equal, state.actor, batch_run[0].actor)
    first = batch.evaluate(0, state)
    second = batch.evaluate(0, batch_run[0])
    np.testing.assert_array_equal(first, second)


def test_vmapped_seeds_equal_runs_one_at_a_time(tiny_config, batch, batch_run):
    train = jax.jit(make_train(tiny_config))
    hp = tiny_config.hparams()
    for i in range(NUM_SEEDS):
        state, metrics = train(batch.train_keys[i], hp)
        np.testing.assert_allclose(metrics["loss"], batch_run[1]["loss"][i], rtol=1e-4, atol=1e-5)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5),
            (state.actor, state.critic),
            (batch_run[0].actor, batch_run[0].critic),
        )


def test_chunks_compose_to_one_program(tiny_config, batch, batch_run):
    whole = Population(tiny_config, NUM_SEEDS, seed=7, chunk=tiny_config.num_updates)
    state, metrics, _ = whole.run()
    np.testing.assert_allclose(metrics["loss"], batch_run[1]["loss"], rtol=1e-5, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        (state.actor, state.critic),
        (batch_run[0].actor, batch_run[0].critic),
    )


def test_hyperparameters_vmap_like_seeds(tiny_config):
    """One program sweeps learning rate and clip eps; each lane equals its own run."""
    trainer = make_trainer(tiny_config)
    hp = broadcast_hparams(tiny_config.hparams(), 2).replace(
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
    batch = Population(config, 2, seed=0, chunk=config.num_updates)
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
    batch = Population(config, 2, chunk=config.num_updates)
    state, metrics, _ = batch.run()
    assert state.actor["params"]["log_std"].shape == (2, 1)
    assert "log_std" not in state.critic["params"]
    assert np.isfinite(metrics["loss"]).all()
    returns = batch.evaluate(0, state)
    assert returns.shape == (2,) and np.all((returns < 0) & (returns > -2000))
    assert state.env_state.obs_stats.mean.shape == (2, 3)


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
    batch = Population(config, 2, chunk=config.num_updates)
    state, metrics, _ = batch.run()
    assert np.isfinite(metrics["loss"]).all()
    assert np.isfinite(batch.evaluate(0, state)).all()


def test_presets_are_valid_and_reach_the_cli():
    from jaxopt_lab.launch.cli import parse_train_args
    from jaxopt_lab.rl import ENV_PRESETS

    for env in ENV_PRESETS:
        config_for(env)
    config, options = parse_train_args(["--env", "Pendulum-v1", "--gamma", "0.9"])
    assert config.num_envs == ENV_PRESETS["Pendulum-v1"]["num_envs"] and config.gamma == 0.9
    assert options.num_seeds == 8
    assert parse_train_args([])[0] == TrainConfig() == config_for()


def test_env_presets_apply_to_their_pair_only_and_yield_to_flags():
    from jaxopt_lab.launch.cli import parse_train_args
    from jaxopt_lab.rl.algos import DPO

    brax_dpo = DPO.env_presets["brax/inverted_pendulum"]["dpo_alpha"]
    assert brax_dpo != DPO.dpo_alpha
    assert config_for("brax/inverted_pendulum", "dpo").algo.dpo_alpha == brax_dpo
    assert config_for("CartPole-v1", "dpo").algo.dpo_alpha == DPO.dpo_alpha
    assert config_for("brax/inverted_pendulum", "dpo", dpo_alpha=2.0).algo.dpo_alpha == 2.0
    args = ["--env", "brax/inverted_pendulum", "--algo", "dpo"]
    assert parse_train_args(args)[0].algo.dpo_alpha == brax_dpo
    assert parse_train_args([*args, "--dpo-alpha", "1.5"])[0].algo.dpo_alpha == 1.5
    with pytest.raises(ValueError, match="dpo_alpha: not a setting of algo ppo"):
        config_for("brax/inverted_pendulum", "ppo", dpo_alpha=1.0)


# --- every traced number is traced wherever it is used ------------------------------------


def sweep_equals_single_runs(config, swept_hp, singles, rtol=2e-4, atol=1e-5):
    """Train ``swept_hp`` (two lanes, one key) in one vmapped program; each lane must equal
    the run of its own config, built and compiled on its own (to float32 rounding: the two
    programs are compiled differently)."""
    keys = jnp.stack([jax.random.key(5)] * 2)
    state, swept = jax.jit(jax.vmap(make_trainer(config).train))(keys, swept_hp)
    networks = (state.actor, state.critic)
    lanes_differ = jax.tree.map(lambda x: float(jnp.abs(x[0] - x[1]).max()), networks)
    assert max(jax.tree.leaves(lanes_differ)) > 1e-4
    for lane, single in enumerate(singles):
        alone_state, alone = jax.jit(make_train(single))(jax.random.key(5), single.hparams())
        np.testing.assert_allclose(alone["loss"], swept["loss"][lane], rtol=rtol, atol=atol)
        jax.tree.map(
            lambda a, b, lane=lane: np.testing.assert_allclose(a, b[lane], rtol=rtol, atol=atol),
            (alone_state.actor, alone_state.critic),
            networks,
        )


def test_gamma_sweep_with_reward_normalisation_equals_single_runs():
    """Reward normalisation discounts with each run's own (traced) gamma, as GAE does."""
    config = config_for(
        "Pendulum-v1",
        num_envs=4,
        num_steps=16,
        total_timesteps=4 * 16 * 4,
        num_minibatches=2,
        update_epochs=2,
        hidden_sizes=(16,),
        normalize_rewards=True,
    )
    gammas = (0.5, 0.99)
    hp = broadcast_hparams(config.hparams(), 2).replace(gamma=jnp.array(gammas))
    sweep_equals_single_runs(config, hp, [config.replace(gamma=g) for g in gammas])


def test_env_parameter_sweep_equals_single_runs(tiny_config):
    """One program trains CartPole with two pole lengths (the derived polemass_length follows)."""
    lengths = (0.25, 1.0)
    hp = broadcast_hparams(tiny_config.hparams(), 2)
    hp = hp.replace(env_params=hp.env_params.replace(length=jnp.array(lengths)))
    singles = [tiny_config.replace(env_params={"length": length}) for length in lengths]
    assert singles[1].env_params.polemass_length == pytest.approx(0.1)
    sweep_equals_single_runs(tiny_config, hp, singles)


@pytest.mark.parametrize("algo", ["trpo", "dpo"])
def test_algorithm_settings_sweep_equals_single_runs(tiny_config, algo):
    """The algorithm's own traced settings vmap like the shared ones."""
    config = config_for("CartPole-v1", algo, learning_rate=0.05, **_tiny(tiny_config))
    name = {"trpo": "max_kl", "dpo": "dpo_alpha"}[algo]
    values = (0.002, 0.05) if algo == "trpo" else (0.01, 4.0)
    hp = broadcast_hparams(config.hparams(), 2)
    hp = hp.replace(algo=hp.algo.replace(**{name: jnp.array(values)}))
    singles = [config.replace(algo=config.algo.replace(**{name: v})) for v in values]
    # TRPO's conjugate gradient and line search amplify rounding differences: 2e-3, while the
    # two lanes' trust regions differ 25-fold.
    sweep_equals_single_runs(config, hp, singles, rtol=2e-3, atol=1e-4)


def _tiny(config):
    names = ("num_envs", "num_steps", "total_timesteps", "update_epochs", "num_minibatches")
    return {name: getattr(config, name) for name in (*names, "hidden_sizes")}


def test_the_trainer_cannot_read_a_traced_setting_from_the_config(tiny_config):
    """Everything built from the config sees its traced fields as TracedValue: a use raises."""
    static = make_trainer(tiny_config).context.config
    assert static.num_envs == tiny_config.num_envs
    assert isinstance(static.gamma, TracedValue)
    assert isinstance(static.env_params.length, TracedValue)
    with pytest.raises(TypeError, match=r"config\.gamma is a traced hyperparameter"):
        static.gamma * 2.0
    with pytest.raises(TypeError, match="traced"):
        float(static.learning_rate)


def test_hparams_of_another_static_config_are_refused(tiny_config):
    trainer = make_trainer(tiny_config)
    other = tiny_config.replace(num_steps=8, total_timesteps=8 * 4 * 4)
    with pytest.raises(ValueError, match="static settings differ"):
        jax.eval_shape(trainer.train, jax.random.key(0), other.hparams())


def test_sweep_values_are_checked_like_settings(tiny_config):
    hp = broadcast_hparams(tiny_config.hparams(), 3)
    with pytest.raises(ValueError, match=r"learning_rate: got -1.0; must be > 0"):
        hp.replace(learning_rate=jnp.array([1e-3, -1.0, 1e-2]))
    with pytest.raises(ValueError, match="gamma: got nan"):
        hp.replace(gamma=jnp.array([0.9, jnp.nan, 0.99]))


@pytest.mark.slow  # ~3 minutes on the 2-core CPU: pytest -m slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trpo_preset_solves_cartpole_on_every_seed_set(seed, tmp_path):
    """``train.py --algo trpo --seed S`` (8 seeds) reaches IQM >= 475 for S = 0, 1, 2."""
    from jaxopt_lab.launch import Experiment, run_experiment

    experiment = Experiment(config_for("CartPole-v1", "trpo"), num_seeds=8, seed=seed)
    summary = run_experiment(experiment, tmp_path / "trpo", progress=False)
    print(f"seed {seed}: IQM {summary['iqm']:.1f}, final returns {summary['final_return']}")
    assert summary["status"] == "ok" and summary["iqm"] >= 475, summary["final_return"]
