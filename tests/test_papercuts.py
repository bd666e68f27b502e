"""Bad input to every script, one row each: exactly one ``error:`` line naming the flag or the
file and what is wrong, exit code 2, and nothing written (issue 15, part 4).

The rows call each script's ``main(argv)`` in this process, in a fresh working directory (and
``HOME``, so ``~`` stays inside it), and check that the directory is left as it was. A row must
be refused before anything compiles: the whole table runs in seconds. A new flag gets rows for
zero, negative, NaN, inf and huge numbers, and for missing, unwritable and wrong-kind paths.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from experiment_scripts import load_script

from jaxopt_lab._pytree_io import save_pytree
from jaxopt_lab.checkpoint import checkpoint_manager, save_state
from jaxopt_lab.launch.experiment import Experiment, metrics_frame
from jaxopt_lab.launch.population import Population
from jaxopt_lab.launch.progress import empty_metrics
from jaxopt_lab.meta.pref_loss import dpo_init, metadata
from jaxopt_lab.objectives.learned_drift import (
    drift_file_metadata,
    init_drift_weights,
    make_drift_params,
    save_drift_params,
)
from jaxopt_lab.rl import config_for
from jaxopt_lab.rundir import check_out_dir, check_out_file, run_directory, write_json

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--total-timesteps", "2048", "--num-envs", "4", "--num-steps", "32", "--num-seeds", "2"]
TINY += ["--hidden-sizes", "16", "16", "--eval-episodes", "4", "--no-progress"]
HUGE = "1000000000000000"
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # jax.monitoring's name
PREF = ["--no-progress", "--lab.num-demos", "64", "--lab.num-pairs", "64"]

# (script, argv, what the error line must contain). {F}: the fixture files; {out}: a run
# directory inside the row's working directory (it must not exist afterwards).
ROWS = [
    # train.py: numbers
    ("train", ["--learning-rate", "inf"], "learning_rate: got inf; must be > 0 and finite"),
    ("train", ["--learning-rate", "0"], "learning_rate: got 0.0; must be > 0"),
    ("train", ["--clip-eps", "nan"], "clip_eps: got nan"),
    ("train", ["--ent-coef", "nan"], "ent_coef: got nan; must be >= 0 and finite"),
    ("train", ["--vf-coef", "-1"], "vf_coef: got -1.0"),
    ("train", ["--reward-scale", "inf"], "reward_scale: got inf"),
    ("train", ["--gamma", "nan"], "gamma: got nan; must be in [0, 1]"),
    ("train", ["--max-grad-norm", "0"], "max_grad_norm: got 0.0"),
    ("train", ["--sam-rho", "inf"], "sam_rho: got inf"),
    ("train", ["--algo", "dpo", "--dpo-alpha", "inf"], "dpo_alpha: got inf"),
    ("train", ["--algo", "trpo", "--max-kl", "nan"], "max_kl: got nan"),
    ("train", ["--total-timesteps", "-5"], "total_timesteps: got -5; must be >= 1"),
    ("train", ["--total-timesteps", HUGE], f"total_timesteps: got {HUGE}; must be <= 2**31 - 1"),
    ("train", ["--update-epochs", HUGE], "update_epochs: got"),
    ("train", ["--num-seeds", "0"], "num_seeds: got 0; must be >= 1"),
    ("train", ["--num-seeds", HUGE], f"num_seeds: got {HUGE}; must be <= 2**31 - 1"),
    ("train", ["--num-seeds", "2000000000"], "population: the metrics of 2,000,000,000 runs x 16"),
    ("train", ["--hidden-sizes", "1000000", "1000000"], "population: one run needs"),
    ("train", ["--num-minibatches", "3"], "num_minibatches: num_envs * num_steps = 128"),
    ("train", ["--seed", "-1"], "seed: got -1; must be in [0, 2**63)"),
    ("train", ["--seed", "18446744073709551616"], "seed: got 18446744073709551616"),
    ("train", ["--checkpoint-every", "0"], "checkpoint_every: got 0"),
    ("train", ["--cpu-devices", "0"], "cpu_devices: got 0; must be in [1, 1024]"),
    ("train", ["--cpu-devices", HUGE], f"cpu_devices: got {HUGE}"),
    ("train", ["--num-seeds", "abc"], "--num-seeds: invalid literal for int()"),
    ("train", ["--num-processes", "2"], "coordinator_address: give --coordinator-address"),
    # train.py: names
    ("train", ["--env", "CartPole-v9"], "env: unknown environment 'CartPole-v9'"),
    ("train", ["--algo", "sac"], "algo: unknown value 'sac'; allowed: ppo, a2c, dpo"),
    ("train", ["--activation", "gelu"], "activation: unknown value 'gelu'; allowed: tanh"),
    ("train", ["--optimizer", "sgdd"], "optimizer: unknown value 'sgdd'"),
    ("train", ["--brax-backend", "x"], "brax_backend: unknown value 'x'"),
    ("train", ["--log", "x"], "log: unknown value 'x'"),
    ("train", ["--sweep", "learning_rate=nan"], "learning_rate: got nan; must be > 0"),
    ("train", ["--sweep", "learning_rate=fast"], "sweep: learning_rate: 'fast' is not a number"),
    ("train", ["--sweep", "learning_rate=1e-3,inf"], "learning_rate: got inf"),
    ("train", ["--env-param", "bogus=1"], "CartPole-v1 has no settable parameter 'bogus'"),
    ("train", ["--env-param", "length=inf"], "env_params.length: got inf; must be finite"),
    ("train", ["--bogus", "1"], "unrecognized arguments: --bogus 1"),
    ("train", ["--env"], "--env: missing value"),
    # train.py: paths
    ("train", ["--out", ""], "out: got an empty path"),
    ("train", ["--out", "{F}/afile"], "afile exists and is not a directory"),
    ("train", ["--out", "/proc/x"], "out: /proc/x is not writable"),
    ("train", ["--out", "/dev/null/x"], "out: /dev/null/x is not writable"),
    ("train", ["--out", "{F}/finished"], "finished already holds a finished run"),
    ("train", ["--out", "{F}/killed", "--seed", "7"], "another config (differs in seed)"),
    ("train", ["--algo", "lpo"], "drift_file: algo lpo needs a learned drift"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/missing.npz"], "missing.npz: no such file"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/text.txt"], "it starts with b'hell'"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/truncated.npz"], "truncated zip archive"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/empty.npz"], "the file is empty"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}"], "(it is a directory)"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/nan.npz"], "non-finite values"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/shape.npz"], "has shape (4, 128)"),
    ("train", ["--algo", "lpo", "--drift-file", "{F}/loss.npz"], "expected 'lpo_drift'"),
    # evaluate.py: broken run directories
    ("evaluate", ["--run", "{F}/truncated"], "truncated/checkpoints/16: unreadable checkpoint"),
    ("evaluate", ["--run", "{F}/deleted"], "no checkpoint of step 16 (steps found: none)"),
    ("evaluate", ["--run", "{F}/killed"], "status 'running'; the checkpoints are those of an"),
    ("evaluate", ["--run", "{F}/crashed"], "status 'crashed' (RuntimeError: boom)"),
    ("evaluate", ["--run", "{F}/invalid"], "invalid/config.json is not valid JSON"),
    ("evaluate", ["--run", "{F}/reshaped"], "has shape (2, 16), the config needs (2, 32)"),
    ("evaluate", ["--run", "{F}/afile"], "is not a run directory with config.json"),
    ("evaluate", ["--run", ""], "run: got an empty path"),
    ("evaluate", ["--run", "{F}/finished", "--seed", HUGE + "0000"], "seed: got 1000"),
    ("evaluate", [], "missing required flag --run"),
    # lpo_meta.py
    ("lpo_meta", ["--out", "{F}/afile"], "afile exists and is not a directory"),
    ("lpo_meta", ["--out", "/proc/x"], "out: /proc/x is not writable"),
    ("lpo_meta", ["--out", "/dev/null/x"], "out: /dev/null/x is not writable"),
    ("lpo_meta", ["--out", "{F}/finished"], "finished already holds a finished run"),
    ("lpo_meta", ["--out", "{F}/es-killed"], "unfinished run of another config (differs in"),
    ("lpo_meta", ["--out", "{F}/lpo-killed", "--num-seeds", "3"], "(differs in num_seeds)"),
    ("lpo_meta", ["--out", "{F}/lpo-killed", "--ppo-init", "True"], "(differs in ppo_init)"),
    ("lpo_meta", ["--out", "{out}", "--num-seeds", "0"], "num_seeds: got 0"),
    ("lpo_meta", ["--out", "{out}", "--num-seeds", "100000"], "population: 1,600,000 runs at once"),
    ("lpo_meta", ["--out", "{out}", "--population-size", "3"], "population_size: got 3"),
    ("lpo_meta", ["--out", "{out}", "--num-generations", "0"], "num_generations: got 0"),
    ("lpo_meta", ["--out", "{out}", "--total-timesteps", HUGE], "total_timesteps: got"),
    ("lpo_meta", ["--out", "{out}", "--seed", "-1"], "seed: got -1"),
    ("lpo_meta", ["--out", "{out}", "--setting", "x"], "--setting: unknown value 'x'"),
    # preference.py
    ("preference", ["--learning-rate", "inf"], "learning_rate: got inf"),
    ("preference", ["--betas", "0.1", "inf"], "betas: got inf; must be > 0 and finite"),
    ("preference", ["--betas", "0"], "betas: got 0.0; must be > 0"),
    ("preference", ["--lab.repeat-penalty", "nan"], "repeat_penalty: got nan"),
    ("preference", ["--lab.bt-scale", "inf"], "bt_scale: got inf"),
    ("preference", ["--lab.vocab-size", HUGE], "vocab_size: got"),
    ("preference", ["--num-seeds", "0"], "num_seeds: got 0"),
    ("preference", ["--seed", "-1"], "seed: got -1"),
    ("preference", ["--losses", "nope"], "losses: unknown preference loss 'nope'"),
    ("preference", ["--loss", "{F}/missing.npz"], "missing.npz: not found"),
    ("preference", ["--loss", "{F}/text.txt"], "not a readable .npz parameter file"),
    ("preference", ["--loss", "{F}/truncated-loss.npz"], "truncated zip archive"),
    ("preference", ["--loss", "{F}/nan-loss.npz"], "holds non-finite parameters"),
    ("preference", ["--loss", "{F}/shape-loss.npz"], "has shape (3,"),
    ("preference", ["--figure", "{F}"], "figure: "),
    ("preference", ["--figure", "nowhere/frontier.png"], "the directory of nowhere"),
    ("preference", ["--figure", "/proc/frontier.png"], "figure: /proc/frontier.png is not"),
    ("preference", ["--figure", ""], "figure: got an empty path"),
    ("preference", ["--out", "{F}/afile"], "afile exists and is not a directory"),
    ("preference", ["--num-seeds", "1000000"], "preference sweep: 56,000,000 runs at once"),
    # discover_loss.py
    ("discover_loss", ["--discovery.kl-prices", "inf"], "kl_prices: got inf"),
    ("discover_loss", ["--discovery.betas", "nan"], "betas: got nan"),
    ("discover_loss", ["--discovery.learning-rate", "inf"], "learning_rate: got inf"),
    ("discover_loss", ["--discovery.num-data-seeds", "0"], "num_data_seeds: got 0"),
    ("discover_loss", ["--es.sigma", "inf"], "sigma: got inf"),
    ("discover_loss", ["--es.population-size", "3"], "population_size: got 3"),
    ("discover_loss", ["--es.population-size", HUGE], f"population_size: got {HUGE}; must be <="),
    ("discover_loss", ["--es.seed", "-1"], "seed: got -1"),
    ("discover_loss", ["--es.fitness-shaping", "x"], "fitness_shaping: unknown value 'x'"),
    ("discover_loss", ["--held-out-seeds", "0"], "held_out_seeds: got 0"),
    ("discover_loss", ["--discovery.num-data-seeds", "1000000"], "generation: 48,000,000"),
    ("discover_loss", ["--out", "{F}/afile"], "afile exists and is not a directory"),
    ("discover_loss", ["--out", "{F}/finished"], "finished already holds a finished run"),
    ("discover_loss", ["--out", "{F}/es-killed"], "unfinished run of another config"),
    # compare.py (one pair)
    ("compare", ["--num-seeds", "0"], "num_seeds: got 0"),
    ("compare", ["--seed", "-1"], "seed: got -1"),
    ("compare", ["--total-timesteps", HUGE], "total_timesteps: got"),
    ("compare", ["--override", "learning_rate=nan"], "learning_rate: got nan; must be > 0"),
    ("compare", ["--override", "learning_rate=fast"], "learning_rate: expected float, got 'fast'"),
    ("compare", ["--override", "clip_eps=inf"], "clip_eps: got inf"),
    ("compare", ["--override", "nope=1"], "override: expected FIELD=VALUE, got 'nope=1'"),
    ("compare", ["--algos", "sac"], "algo: unknown value 'sac'"),
    ("compare", ["--envs", "Nope-v0"], "env: unknown environment 'Nope-v0'"),
    ("compare", ["--drift-file", "{F}/text.txt"], "not a readable .npz parameter file"),
    ("compare", ["--cpu-devices", "0"], "cpu_devices: got 0"),
    ("compare", ["--out", "{F}/afile"], "afile exists and is not a directory"),
    # optimizers.py
    ("optimizers", ["--lr-factors", "1", "nan"], "lr_factors: got nan"),
    ("optimizers", ["--lr-factors", "inf"], "lr_factors: got inf"),
    ("optimizers", ["--lr-factors", "1e300"], "lr_factors: got inf"),
    ("optimizers", ["--regression-lr", "nan"], "regression_lr: got nan"),
    ("optimizers", ["--num-seeds", "0"], "num_seeds: got 0"),
    ("optimizers", ["--seed", "-1"], "seed: got -1"),
    ("optimizers", ["--regression-log-every", "7"], "regression_log_every: 7 does not divide"),
    ("optimizers", ["--optimizers", "nadam"], "optimizers: unknown value 'nadam'"),
    ("optimizers", ["--out", "/proc/x"], "out: /proc/x is not writable"),
    # benchmarks: their arguments only
    ("bench_ppo", ["--num-seeds", "0"], "num_seeds: got 0"),
    ("bench_ppo", ["--algos", "sac"], "algos: unknown value 'sac'"),
    ("bench_ppo", ["--cpu-devices", "0"], "cpu_devices: got 0"),
    ("bench_optim", ["--repeats", "0"], "repeats: got 0"),
    ("bench_optim", ["--scale", "-1"], "scale: got -1"),
    ("bench_scaling", ["--runs", "0"], "runs: got 0"),
    ("bench_scaling", ["--devices", HUGE], "devices: got"),
    ("bench_scaling", ["--env", "Nope-v0"], "env: unknown environment 'Nope-v0'"),
    ("bench_peers", ["--rounds", "0"], "rounds: got 0"),
    ("bench_peers", ["--venv", "{F}/afile"], "is not a virtual environment"),
    ("bench_gpu", ["--bogus"], "unrecognized arguments: --bogus"),
]
BASE = {  # what each script's rows add (later flags win): small, and --out inside the row
    "train": [*TINY, "--out", "{out}"],
    "compare": ["--envs", "CartPole-v1", "--algos", "ppo", "--no-progress", "--out", "{out}"],
    "preference": [*PREF, "--out", "{out}"],
    "discover_loss": ["--no-progress", "--out", "{out}"],
    "optimizers": ["--out", "{out}"],
}
SCRIPTS = sorted({row[0] for row in ROWS})


def zeros_like(leaf) -> jax.Array:
    """A concrete array of the abstract ``leaf`` (fresh PRNG keys for a key array)."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.split(jax.random.key(0), math.prod(leaf.shape)).reshape(leaf.shape)
    return jax.numpy.zeros(leaf.shape, leaf.dtype)


def fake_run(path: Path, config, status: str = "ok") -> None:
    """A run directory as train.py writes it, its final checkpoint holding zeros: built by
    tracing the programs' shapes, without compiling or training anything."""
    experiment = Experiment(config, num_seeds=2)
    population = Population(config, 2, 0, experiment.members())
    state = jax.tree.map(zeros_like, population.abstract_state())
    metrics = empty_metrics(population)
    manager = checkpoint_manager(path / "checkpoints", keep_period=config.num_updates)
    save_state(manager, config.num_updates, {"state": state, "metrics": metrics})
    manager.wait_until_finished()
    manager.close()
    with run_directory(path, "rl", experiment.record()) as summary:
        summary.update(algo="ppo", env=config.env, num_seeds=2, status=status)
        zero = {k: 0.0 for k in ("iqm", "ci_low", "ci_high", "compile_seconds")}
        summary.update(zero, final_return=[0.0, 0.0], train_seconds=1.0, steps_per_second=1.0)
    metrics_frame(metrics, experiment).to_parquet(path / "metrics.parquet", index=False)


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Bad files and broken run directories, built once (nothing here compiles)."""
    root = tmp_path_factory.mktemp("papercuts")
    (root / "text.txt").write_text("hello, not an npz\n")
    (root / "afile").write_text("a file where a directory belongs\n")
    (root / "empty.npz").write_bytes(b"")
    save_drift_params(root / "drift.npz", make_drift_params(init_drift_weights(jax.random.key(0))))
    data = (root / "drift.npz").read_bytes()
    (root / "truncated.npz").write_bytes(data[: len(data) // 2])
    nan = {"hidden": np.full((8, 128), np.nan), "out": np.zeros((128, 1))}
    save_pytree(root / "nan.npz", nan, drift_file_metadata(False))
    shape = {"hidden": np.zeros((4, 128)), "out": np.zeros((128, 1))}
    save_pytree(root / "shape.npz", shape, drift_file_metadata(False))
    loss = {k: np.asarray(v) for k, v in dpo_init().items()}
    save_pytree(root / "loss.npz", loss, metadata())
    data = (root / "loss.npz").read_bytes()
    (root / "truncated-loss.npz").write_bytes(data[: len(data) // 2])
    save_pytree(root / "nan-loss.npz", {k: v * np.nan for k, v in loss.items()}, metadata())
    save_pytree(
        root / "shape-loss.npz", {k: np.zeros((3, *v.shape)) for k, v in loss.items()}, metadata()
    )
    config = config_for("CartPole-v1", "ppo", num_envs=4, num_steps=32, total_timesteps=2048,
                        hidden_sizes=(16, 16), eval_episodes=4)  # fmt: skip
    fake_run(root / "finished", config)
    for name in ("truncated", "deleted", "killed", "crashed", "invalid", "reshaped"):
        shutil.copytree(root / "finished", root / name)
    step = root / "truncated" / "checkpoints" / "16" / "default" / "_METADATA"
    step.write_bytes(step.read_bytes()[:100])
    shutil.rmtree(root / "deleted" / "checkpoints" / "16")
    shutil.rmtree(root / "killed" / "checkpoints" / "16")
    write_json(root / "killed" / "summary.json", {"kind": "rl", "status": "running"})
    edit_json(
        root / "crashed" / "summary.json",
        lambda s: s.update(status="crashed", error="RuntimeError: boom"),
    )
    (root / "invalid" / "config.json").write_text("{not json")
    edit_json(
        root / "reshaped" / "config.json", lambda c: c["config"].update(hidden_sizes=[32, 32])
    )
    (root / "es-killed").mkdir()
    write_json(root / "es-killed" / "config.json", {"kind": "es", "config": {"problem": "x"}})
    write_json(root / "es-killed" / "summary.json", {"kind": "es", "status": "running"})
    lpo_meta = load_script("lpo_meta")  # a killed run of lpo_meta.py's default setting
    record = lpo_meta.setting_record(lpo_meta.build_setting(lpo_meta.LPOArgs(out="")))
    shutil.copytree(root / "es-killed", root / "lpo-killed")
    write_json(root / "lpo-killed" / "config.json", {"kind": "es", "config": record})
    return root


def snapshot(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


@pytest.fixture
def compiled():
    """``(function, seconds)`` of every XLA compilation while the test runs."""
    seen = []

    def listener(event: str, seconds: float, fun_name: str = "", **_) -> None:
        if event == BACKEND_COMPILE_EVENT:
            seen.append((fun_name, seconds))

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.parametrize(
    ("script", "argv", "message"), ROWS, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(
    script, argv, message, files, tmp_path, monkeypatch, capsys, compiled
):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(work))
    argv = [a.format(F=files, out=work / "run") for a in [*BASE.get(script, []), *argv]]
    before = snapshot(files)
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2, err[-2000:]
    assert len(errors) == 1 and message in errors[0], err[-2000:]
    assert not list(work.iterdir()), f"left behind: {sorted(snapshot(work))}"
    assert snapshot(files) == before
    slow = [(name, round(seconds, 1)) for name, seconds in compiled if seconds > 2]
    assert not slow, f"compiled before refusing: {slow}"  # a training program, not a small op


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_every_flag(script, monkeypatch, capsys):
    """Every flag has a description, and no reStructuredText markup shows."""
    monkeypatch.setenv("COLUMNS", "80")  # one column of flags
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main(["--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert not [mark for mark in ("``", ":mod:", ":class:", ":func:") if mark in text], text
    assert not undescribed_flags(text), text


def test_help_into_a_closed_pipe_is_quiet_exit_141():
    """``train.py --help | head``: a reader that has left before the help is written (here
    ``true``, which reads nothing); no traceback, exit code 141."""
    script = ROOT / "experiments" / "train.py"
    command = f"{sys.executable} {script} --help | true"
    env = {**os.environ, "COLUMNS": "80", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert "Traceback" not in result.stderr and "Broken pipe" not in result.stderr, result.stderr
    assert result.returncode == 141, (result.returncode, result.stderr[-2000:])


def undescribed_flags(help_text: str) -> list[str]:
    """Flags whose entry in tyro's help is only the flag, its metavar and its default."""
    entries: list[list[str]] = []
    current = False
    for line in help_text.splitlines():
        text = line.strip().strip("│").strip()
        if line.lstrip().startswith(("╭", "╰")) or re.fullmatch(r"[-─]+", text):
            current = False  # a box's edge or rule: what follows is not a flag's help
        elif re.fullmatch(r"--?[a-z][a-z0-9.-]*,?", text.split()[0] if text else ""):
            entries.append([text])
            current = True
        elif text and current:
            entries[-1].append(text)
    bare = []
    for lines in entries:
        words = " ".join(lines).rsplit("(default:", 1)[0]
        words = re.sub(r"\{[^}]*\}|\((required|repeatable)\)", " ", words)
        described = [w for w in words.split() if not re.fullmatch(r"-.*|[][.A-Z|,]+", w)]
        if not described:
            bare.append(lines[0].split()[0])
    return bare


def test_brax_import_prints_no_warp_lines():
    """Importing brax (here for an unknown brax env) prints only the error line."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "train.py"), "--env", "brax/nope"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.startswith("error: env: unknown environment")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_ctrl_c_is_one_line_exit_130_and_recorded(tmp_path):
    """SIGINT to a run (while it builds its program): "interrupted", exit code 130,
    summary.json status ``interrupted``, no traceback."""
    out = tmp_path / "run"
    budget = ["--total-timesteps", "200000", "--checkpoint-every", "1000"]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "train.py"), *TINY, *budget, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines = []
    for line in process.stderr:  # the run directory exists, the program is being built
        lines.append(line)
        if line.startswith("compiling"):
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = "".join(lines) + rest
    assert process.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err[-3000:]
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


def test_paths_expand_home(tmp_path, monkeypatch):
    """``--out=~/x`` names ``$HOME/x``, never a literal ``./~`` (nothing is created)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert check_out_dir("~/run") == tmp_path / "run"
    assert check_out_file("~/frontier.png", "figure") == tmp_path / "frontier.png"
    assert not list(tmp_path.iterdir())
