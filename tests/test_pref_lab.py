"""The preference-learning lab: task, Bradley-Terry labels, vmapped trainer, KL, frontier CLI."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.pref import (
    LabConfig,
    bradley_terry_prob,
    evaluate_policy,
    label_pairs,
    make_hparams,
    make_sweep,
    make_train,
    registry_loss,
    true_reward,
)
from jaxopt_lab.pref.frontier import build_labs

TINY = LabConfig(
    hidden=32,
    num_demos=1024,
    sft_steps=150,
    sft_batch_size=128,
    num_pairs=512,
    num_steps=60,
    batch_size=32,
    log_every=20,
    eval_prompts=64,
    eval_samples=4,
)
LOSSES = ("sigmoid", "discopop", "aqfl")
BETAS = (0.1, 0.5)


@pytest.fixture(scope="module")
def labs():
    return build_labs(TINY, seed=0, num_seeds=2)


@pytest.fixture(scope="module")
def sweep(labs):
    """One program on both data seeds: (params, metrics, hparams) of DPO at beta 0.1 and 0.5
    with learning rate 1e-2 (configs 0, 1), then every loss x beta at 3e-3 (configs 2 ..)."""
    lab, train_keys = labs
    index, beta = (a.ravel() for a in np.meshgrid(np.arange(len(LOSSES)), BETAS, indexing="ij"))
    hparams = make_hparams(
        np.concatenate([[0.1, 0.5], beta]),
        np.concatenate([[1e-2, 1e-2], np.full(beta.size, 3e-3)]),
        np.concatenate([[0, 0], index]),
    )
    keys = jnp.broadcast_to(train_keys[:, None], (2, hparams.beta.size))
    params, metrics = make_sweep(TINY, [registry_loss(n) for n in LOSSES])(keys, hparams, lab)
    return params, jax.tree.map(np.asarray, metrics), hparams


def test_true_reward_by_hand():
    # topic +1 (x_0 = 0 < 4): all 7s, sentiment 1, every adjacent pair repeats: 1 - 0.5
    # topic -1 (x_0 = 5): 0,1,0,1,0,1 has mean sentiment (-1 - 5/7) / 2, no repeats
    prompts = jnp.array([[0, 3, 3, 3], [5, 0, 0, 0]])
    completions = jnp.array([[7] * 6, [0, 1] * 3])
    np.testing.assert_allclose(true_reward(TINY, prompts, completions), [0.5, 6 / 7], rtol=1e-6)


def test_bradley_terry_by_hand():
    np.testing.assert_allclose(
        bradley_terry_prob(jnp.array([1.0, 0.5, 0.0]), jnp.array([0.0, 0.5, 1.0]), 2.0),
        [1 / (1 + np.exp(-2.0)), 0.5, 1 / (1 + np.exp(2.0))],
        rtol=1e-6,
    )
    # a near-deterministic labeller picks the higher reward; frequencies follow sigma
    sure = label_pairs(jax.random.key(0), jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), 1e4)
    np.testing.assert_array_equal(sure, [True, False])
    draws = label_pairs(jax.random.key(1), jnp.full(20_000, 0.3), jnp.zeros(20_000), 4.0)
    assert abs(float(draws.mean()) - 1 / (1 + np.exp(-1.2))) < 0.01


def test_pairs_agree_with_the_true_reward(labs):
    lab, _ = labs
    pairs = jax.tree.map(lambda a: a[0], lab.pairs)
    margin = true_reward(TINY, pairs.prompts, pairs.chosen) - true_reward(
        TINY, pairs.prompts, pairs.rejected
    )
    # noisy Bradley-Terry labels: most, not all, chosen completions have the higher reward
    agreement = float(jnp.mean(margin > 0) / jnp.mean(margin != 0))
    assert 0.6 < agreement < 0.97
    np.testing.assert_allclose(
        lab.stats["label_agreement"][0],
        jnp.mean(margin > 0) + 0.5 * jnp.mean(margin == 0),
        rtol=1e-6,
    )


def test_kl_of_reference_to_itself_is_zero(labs):
    lab, _ = labs
    ref = jax.tree.map(lambda a: a[0], lab.ref_params)
    out = evaluate_policy(jax.random.key(3), TINY, ref, ref, lab.eval_prompts[0])
    assert float(out["kl"]) == 0.0


def test_vmapped_sweep_equals_one_run_at_a_time(labs, sweep):
    lab, train_keys = labs
    params, metrics, hparams = sweep
    train = jax.jit(make_train(TINY, [registry_loss(n) for n in LOSSES]))
    flat = lambda tree: np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])  # noqa: E731
    # sigmoid at beta 0.1 and 0.5 (smooth: the whole run agrees); discopop at 0.1 and 0.5 (its
    # x / 0.05 gate amplifies rounding differences step after step: the first window agrees).
    # Not aqfl: its gradient at the start (all x ~ 0) follows the std of rounding noise.
    for seed, config, windows in ((0, 2, 3), (1, 3, 3), (1, 5, 1), (0, 4, 1)):
        one = jax.tree.map(lambda a, c=config: a[c], hparams)
        lab_s = jax.tree.map(lambda a, s=seed: a[s], lab)
        single_params, single = train(train_keys[seed], one, lab_s)
        names = ("loss", "margin", "reward", "kl") if windows == 3 else ("loss", "margin")
        for name in names:
            np.testing.assert_allclose(
                np.ravel(single[name])[:windows],
                np.ravel(metrics[name][seed, config])[:windows],
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{name} of config {config}",
            )
        if windows == 3:
            batched = flat(jax.tree.map(lambda a, s=seed, c=config: a[s, c], params))
            np.testing.assert_allclose(flat(single_params), batched, rtol=1e-3, atol=1e-5)


def test_dpo_raises_true_reward_at_finite_kl(labs, sweep):
    lab, _ = labs
    _, metrics, _ = sweep
    ref_reward = np.asarray(lab.stats["ref_reward"])
    dpo = 0  # sigmoid at beta 0.1, learning rate 1e-2
    assert np.all(metrics["reward"][:, dpo] > ref_reward + 0.1), (metrics["reward"], ref_reward)
    assert np.all(metrics["kl"][:, dpo] > 0.05)
    assert np.all(np.isfinite(metrics["kl"])) and np.all(metrics["kl"] < 50)
    # a larger beta stays closer to the reference
    assert np.all(metrics["kl"][:, 1] < metrics["kl"][:, 0])


def test_loss_inputs_of_different_shapes_are_rejected():
    loss = registry_loss("sigmoid")
    with pytest.raises(ValueError, match="same shape"):
        loss(jnp.zeros(3), jnp.zeros(4), jnp.zeros(3), jnp.zeros(3), 0.1, ())


def run_cli(monkeypatch, capsys, script, args):
    """Run ``experiments/<script>.main()`` in-process; returns (exit code, stderr)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "experiments" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"_cli_{script}", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--betas", "0.1", "0"], "betas: got 0.0; must be > 0"),
        (["--betas", "-0.5"], "betas: got -0.5; must be > 0"),
        (["--losses", "sigmoid", "dpoo"], "known losses: aot, aot_unpaired, apo_down"),
        (["--loss", "{tmp}/missing"], "not found"),
        (["--loss", "{tmp}/corrupt.npz"], "not a readable .npz"),
        (["--num-seeds", "0"], "num_seeds: got 0"),
        (["--lab.batch-size", "8192"], "batch_size: got 8192"),
    ],
)
def test_frontier_cli_rejects_bad_input_before_writing(
    monkeypatch, capsys, tmp_path, args, message
):
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    out = tmp_path / "run"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, err = run_cli(monkeypatch, capsys, "preference", [*args, "--out", str(out)])
    assert code == 2
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_run_memory_estimate_covers_xlas_own_analysis(labs):
    """``LabConfig.run_bytes`` (what preference.py and discover_loss.py check before they
    compile) is above what XLA's memory analysis of a compiled sweep gives per run, and within
    3x of it: it refuses what cannot fit, not what can."""
    lab, train_keys = labs
    runs = 4
    hparams = make_hparams(np.linspace(0.1, 1.0, runs), 1e-3, 0)
    keys = jnp.broadcast_to(train_keys[:, None], (2, runs))
    sweep = make_sweep(TINY, [registry_loss("sigmoid")])
    memory = sweep.lower(keys, hparams, lab).compile().memory_analysis()
    per_run = (memory.temp_size_in_bytes + memory.output_size_in_bytes) / (2 * runs)
    assert per_run <= TINY.run_bytes() <= 3 * per_run
