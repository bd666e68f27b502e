"""Populations at scale: sweeps, groups, sharding over devices and processes, kill and resume."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jaxopt_lab.launch import Experiment, Population, apply_point, parse_sweep
from jaxopt_lab.launch.experiment import experiment_plan, run_experiment, validate_experiment
from jaxopt_lab.launch.memory import MemoryPlan, plan_memory, run_bytes
from jaxopt_lab.launch.progress import env_steps_trained
from jaxopt_lab.rl import config_for

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--num-envs", "4",
    "--num-steps", "16",
    "--hidden-sizes", "16",
    "--eval-episodes", "4",
    "--update-epochs", "2",
    "--num-minibatches", "2",
    "--no-progress",
]  # fmt: skip


def script(*args, env=None, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=600, **kwargs
    )


def train(*args, **kwargs):
    return script(str(ROOT / "experiments" / "train.py"), *TINY, *args, **kwargs)


def error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    return lines[0]


# --- sweep specifications --------------------------------------------------------------------


def test_grid_zip_and_ranges():
    assert parse_sweep(["a=1,2", "b=0.5,x"]) == [
        {"a": 1, "b": 0.5},
        {"a": 1, "b": "x"},
        {"a": 2, "b": 0.5},
        {"a": 2, "b": "x"},
    ]
    assert parse_sweep(["a=1,2", "b=3,4"], "zip") == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    assert parse_sweep(["lr=log:1e-4:1e-2:3"]) == [{"lr": 1e-4}, {"lr": 1e-3}, {"lr": 1e-2}]
    assert parse_sweep(["g=lin:0.9:0.99:4"])[1] == {"g": 0.93}
    assert parse_sweep([]) == [{}]
    for pairs, mode, message in [
        (["a=1,2", "b=1"], "zip", "equally many values"),
        (["a=log:0:1:3"], "grid", "log range needs START and STOP > 0"),
        (["a=log:1:2:2.5"], "grid", "COUNT must be a whole number"),
        (["a=1", "a=2"], "grid", "swept twice"),
        (["a"], "grid", "expected FIELD=V1,V2"),
        (["a=1"], "diagonal", "sweep_mode: unknown value 'diagonal'"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_sweep(pairs, mode)


def test_points_reach_shared_algorithm_and_environment_settings():
    config = config_for("CartPole-v1", "trpo")
    point = {"learning_rate": 1e-3, "max_kl": 0.05, "env_params.length": 1.0}
    member = apply_point(config, point)
    assert member.learning_rate == 1e-3 and member.algo.max_kl == 0.05
    assert member.env_params.length == 1.0 and member.env_params.polemass_length == 0.1
    with pytest.raises(ValueError, match="num_envs is not a traced setting"):
        apply_point(config, {"num_envs": 8})
    with pytest.raises(ValueError, match=r"max_kl: got -1\.0"):
        apply_point(config, {"max_kl": -1.0})


# --- memory ----------------------------------------------------------------------------------


def test_memory_plan_splits_into_groups_and_refuses_what_cannot_fit(tiny_config):
    per_run = run_bytes(tiny_config)
    plan = plan_memory(tiny_config, 10, 1, available=int(3.5 * per_run / 0.7))
    assert (plan.group_size, plan.num_groups) == (3, 4)
    assert "4 groups of 3 runs" in plan.describe()
    assert plan_memory(tiny_config, 10, 4, available=10**12).group_size == 12  # padded
    with pytest.raises(ValueError, match="population: one run needs"):
        plan_memory(tiny_config, 10, 4, available=3 * per_run)
    big = tiny_config.replace(hidden_sizes=(4096, 4096))
    assert run_bytes(big) > 2 * 4 * 4096 * 4096  # two networks' kernels, and more


def test_cpu_groups_hold_at_most_16_runs_per_device_as_even_as_can_be(tiny_config):
    plan = plan_memory(tiny_config, 512, 2, available=10**12, cpu=True)
    assert (plan.group_size, plan.num_groups) == (32, 16)
    assert "16 groups of 32 runs (at most 16 per CPU device: faster)" in plan.describe()
    assert plan_memory(tiny_config, 33, 2, available=10**12, cpu=True).group_size == 18
    assert plan_memory(tiny_config, 32, 2, available=10**12, cpu=True).num_groups == 1
    assert plan_memory(tiny_config, 512, 2, available=10**12).group_size == 512  # not on CPU
    population = Population(tiny_config, 20)  # this session's one CPU device
    assert [len(g) for g in population.groups] == [10, 10] and population.memory.cpu_capped


def test_a_resumed_run_keeps_the_group_size_its_checkpoints_hold(tiny_config, tmp_path):
    """A group size depends on the free memory (and the CPU cap), results on the group size:
    a killed run resumes with the groups it recorded, or is refused in one line."""
    experiment = Experiment(tiny_config, 20)
    fresh = experiment_plan(experiment, tmp_path / "new")
    assert fresh.group_size == 10 and fresh.cpu_capped  # one CPU device, at most 16 each
    killed = tmp_path / "killed"
    killed.mkdir()
    record = {"kind": "rl", "config": experiment.record(), "groups": {"runs_per_group": 4}}
    (killed / "config.json").write_text(json.dumps(record))
    (killed / "summary.json").write_text(json.dumps({"kind": "rl", "status": "running"}))
    assert validate_experiment(experiment, killed) == killed
    assert experiment_plan(experiment, killed).group_size == 4
    record["groups"]["runs_per_group"] = 10**12
    (killed / "config.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="checkpoints hold groups of 1000000000000 runs"):
        validate_experiment(experiment, killed)


@pytest.fixture(scope="module")
def grouped_run(tiny_config, tmp_path_factory):
    """20 runs on this session's one CPU device: two groups of 10."""
    out = tmp_path_factory.mktemp("grouped") / "run"
    summary = run_experiment(Experiment(tiny_config, 20), out, progress=False)
    assert summary["groups"] == {"count": 2, "runs_per_group": 10}
    return out, summary


def test_reevaluation_uses_the_groups_the_checkpoints_hold(grouped_run, monkeypatch):
    from jaxopt_lab.launch import memory
    from jaxopt_lab.launch.reload import reevaluate

    out, summary = grouped_run
    monkeypatch.setattr(memory, "CPU_RUNS_PER_DEVICE", 4)  # today's plan: 5 groups of 4
    final_return, _ = reevaluate(out)
    np.testing.assert_array_equal(final_return, summary["final_return"])


def test_throughput_counts_every_run_once_whatever_the_groups(grouped_run, tiny_config):
    _, summary = grouped_run
    env_steps = 20 * summary["total_timesteps"]
    assert summary["steps_per_second"] == pytest.approx(env_steps / summary["train_seconds"])
    population = Population(tiny_config, 21)  # groups of 11 and 10
    updates, batch = tiny_config.num_updates, tiny_config.batch_size
    assert env_steps_trained(population, 0, 0) == 21 * updates * batch
    assert env_steps_trained(population, 1, 4) == 10 * (updates - 4) * batch  # resumed
    assert env_steps_trained(population, 2, 0) == 0  # resumed after the last group


def test_groups_equal_one_program(tiny_config):
    members = Experiment(tiny_config, 1, sweep=("learning_rate=1e-3,3e-3,1e-2",)).members()
    plan = MemoryPlan(run_bytes(tiny_config), 10**12, 3, group_size=2)
    grouped = Population(tiny_config, 1, 0, members, memory=plan)
    whole = Population(tiny_config, 1, 0, members)
    assert len(grouped.groups) == 2 and len(whole.groups) == 1
    returns = []
    for group in range(2):
        state, metrics, _ = grouped.run(group)
        returns.append(grouped.evaluate(group, state))
        assert metrics["loss"].shape[0] == len(grouped.groups[group])
    state, metrics, _ = whole.run()
    np.testing.assert_array_equal(np.concatenate(returns), whole.evaluate(0, state))


# --- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diverging_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "run"
    result = train(
        "--total-timesteps", "1024", "--num-seeds", "2", "--out", str(out),
        "--sweep", "learning_rate=1e-3,1e30", "--sweep", "max_grad_norm=0.5,1e30",
        "--sweep-mode", "zip",
    )  # fmt: skip
    return out, result


def test_a_diverged_member_is_flagged_and_the_others_reported(diverging_sweep):
    out, result = diverging_sweep
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    ok, bad = summary["members"]
    assert ok["status"] == "ok" and ok["values"] == {"learning_rate": 1e-3, "max_grad_norm": 0.5}
    assert ok["ci_low"] <= ok["iqm"] <= ok["ci_high"]
    assert bad["status"] == "nonfinite" and bad["nonfinite_seeds"] == [0, 1] and "iqm" not in bad
    assert summary["status"] == "nonfinite" and summary["iqm"][1] is None
    assert "members not ok (left out of the statistics): [1]" in result.stderr
    assert "member 1: learning_rate=1e+30" in result.stdout


def test_sweep_metrics_have_a_row_per_member_seed_and_update(diverging_sweep):
    out, _ = diverging_sweep
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics) == 2 * 2 * 16
    assert list(metrics.columns[:7]) == [
        "seed", "update", "env_steps", "episode_return", "member", "learning_rate",
        "max_grad_norm",
    ]  # fmt: skip
    assert metrics.groupby("member")["nonfinite"].any().tolist() == [False, True]
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["sweep"] == ["learning_rate=1e-3,1e30", "max_grad_norm=0.5,1e30"]


def test_a_population_that_cannot_fit_is_refused_before_compiling(tmp_path):
    result = train("--hidden-sizes", "100000", "100000", "--out", str(tmp_path / "big"))
    assert "population: one run needs" in error_line(result)
    assert not (tmp_path / "big").exists()


def test_bad_sweeps_are_one_error_line(tmp_path):
    for args, message in [
        (["--sweep", "num_envs=2,4"], "num_envs is not a traced setting"),
        (["--sweep", "learning_rate=1e-3,-1"], "learning_rate: got -1.0; must be > 0"),
        (["--sweep", "learning_rate=log:1e-3"], "a range is log:START:STOP:COUNT"),
    ]:
        result = train(*args, "--out", str(tmp_path / "x"))
        assert message in error_line(result)
    assert not (tmp_path / "x").exists()


# --- kill and resume -------------------------------------------------------------------------

RESUMABLE = ["--total-timesteps", str(64 * 200), "--num-seeds", "2", "--checkpoint-every", "1"]


def test_a_killed_run_resumes_bit_identical(tmp_path):
    whole = tmp_path / "whole"
    assert train(*RESUMABLE, "--out", str(whole)).returncode == 0
    killed = tmp_path / "killed"
    command = [sys.executable, str(ROOT / "experiments" / "train.py"), *TINY, *RESUMABLE]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([*command, "--out", str(killed)], env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not _checkpointed(killed) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads((killed / "summary.json").read_text())["status"] == "running"
    resumed = train(*RESUMABLE, "--out", str(killed))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from update" in resumed.stderr
    first, second = (json.loads((d / "summary.json").read_text()) for d in (whole, killed))
    assert second["resumed_from_update"] > 0
    assert first["final_return"] == second["final_return"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(whole / "metrics.parquet"), pd.read_parquet(killed / "metrics.parquet")
    )
    other = train(*RESUMABLE, "--learning-rate", "1e-3", "--out", str(killed))
    assert "already holds a finished run" in error_line(other)


def _checkpointed(path):
    steps = [p for p in (path / "checkpoints").glob("*") if p.name.isdigit()]
    return any(0 < int(p.name) < 200 for p in steps)


def test_a_different_command_on_a_killed_run_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    record = json.loads(json.dumps({"kind": "rl", "config": {"learning_rate": 1.0}}))
    (out / "config.json").write_text(json.dumps(record))
    (out / "summary.json").write_text(json.dumps({"kind": "rl", "status": "running"}))
    line = error_line(train("--out", str(out)))
    assert "holds an unfinished run of another config (differs in" in line


# --- devices and processes -------------------------------------------------------------------


def test_sharded_over_8_devices_equals_one_device(tmp_path):
    flags = "--xla_force_host_platform_device_count=8"
    result = script(str(ROOT / "tests" / "sharded_population.py"), str(tmp_path),
                    env={"XLA_FLAGS": flags})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["group_size"] == 8 and report["metrics_shape"] == [6, 6]
    assert report["spec"] == "P('runs',)" and report["devices_used"] == 8
    assert report["shards"] == 8 and report["restored_shards"] == 8
    assert report["max_loss_difference"] < 1e-5 and report["same_returns"]
    assert report["restored_returns_match"]
    assert report["summary_devices"]["count"] == report["config_devices"]["count"] == 8


def test_two_processes_train_one_population(tmp_path):
    single = tmp_path / "single"
    assert (
        train("--total-timesteps", "1024", "--num-seeds", "4", "--out", str(single)).returncode == 0
    )
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(ROOT / "experiments" / "train.py"), *TINY]
    common = ["--total-timesteps", "1024", "--num-seeds", "4", "--out", str(tmp_path / "multi")]
    common += ["--coordinator-address", f"localhost:{port}", "--num-processes", "2"]
    common += ["--cpu-devices", "1"]  # one device per process: two in all, as the single run
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([*command, *common, "--process-id", str(i)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=600) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs[0][1][-3000:]
    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    expected = json.loads((single / "summary.json").read_text())
    assert summary["devices"]["processes"] == 2 and summary["devices"]["count"] == 2
    assert summary["final_return"] == expected["final_return"]
