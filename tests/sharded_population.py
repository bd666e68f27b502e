"""Run by tests/test_population.py in a subprocess with 8 emulated host devices (the XLA flag
must be set before JAX starts): a population sharded over 8 devices equals the same population
on one device, and its outputs and checkpoints are laid out as intended."""

import json
import sys
from pathlib import Path

import jax
import numpy as np

import jaxopt_lab  # noqa: F401
from jaxopt_lab.checkpoint import restore_state
from jaxopt_lab.launch import Experiment, Population, run_experiment
from jaxopt_lab.launch.progress import empty_metrics
from jaxopt_lab.rl import config_for

config = config_for(
    "CartPole-v1",
    num_envs=4,
    num_steps=16,
    total_timesteps=4 * 16 * 6,
    update_epochs=2,
    num_minibatches=2,
    hidden_sizes=(16,),
    eval_episodes=4,
)
experiment = Experiment(config, num_seeds=2, sweep=("learning_rate=1e-3,3e-3,1e-2",))
members = experiment.members()  # 3 members x 2 seeds = 6 runs: padded to 8 on 8 devices
devices = jax.devices()
assert len(devices) == 8, devices

sharded = Population(config, 2, 0, members, chunk=3)
single = Population(config, 2, 0, members, chunk=3, devices=devices[:1])
state, metrics, _ = sharded.run()
ref_state, ref_metrics, _ = single.run()
report = {
    "group_size": sharded.group_size,
    "metrics_shape": list(metrics["loss"].shape),
    "spec": str(state.actor["params"]["MLP_0"]["Dense_0"]["kernel"].sharding.spec),
    "devices_used": len(state.critic["params"]["MLP_0"]["Dense_0"]["kernel"].sharding.device_set),
    "shards": len(state.obs.addressable_shards),
    "max_loss_difference": float(np.abs(metrics["loss"] - ref_metrics["loss"]).max()),
    "same_returns": bool(np.array_equal(sharded.evaluate(0, state), single.evaluate(0, ref_state))),
}
out = Path(sys.argv[1])
summary = run_experiment(experiment, out / "run", progress=False)
like = {"state": sharded.abstract_state(), "metrics": empty_metrics(sharded)}
_, saved = restore_state(out / "run" / "checkpoints", like, sharding=sharded.sharding)
report["restored_shards"] = len(saved["state"].obs.addressable_shards)
recorded = np.ravel(summary["final_return"])
report["restored_returns_match"] = bool(
    np.array_equal(sharded.evaluate(0, saved["state"]), recorded)
)
report["summary_devices"] = summary["devices"]
report["config_devices"] = json.loads((out / "run" / "config.json").read_text())["devices"]
print(json.dumps(report))
