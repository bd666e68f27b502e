"""The area notebooks execute at tiny sizes, their kernels started in notebooks/ as Jupyter does.

Each notebook runs with its ``JAXOPT_LAB_*`` sizes shrunk and a probe cell appended here that
prints what the notebook computed as one JSON object, which the tests check. The notebooks
execute concurrently, one kernel each, in a module fixture: most of their time is XLA
compiling, on one core per program, so they share the machine's cores. (quickstart.ipynb and
lpo_drift.ipynb with a run are executed in test_front_door.py and test_lpo.py.)
"""

import asyncio
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

TINY_LAB = {
    "hidden": 16,
    "num_demos": 256,
    "sft_steps": 20,
    "sft_batch_size": 64,
    "num_pairs": 128,
    "num_steps": 20,
    "batch_size": 16,
    "eval_prompts": 16,
    "eval_samples": 2,
}

# notebook -> (environment, probe: code printing one JSON object of what the notebook computed)
CASES = {
    "compare_algorithms": (
        {
            "JAXOPT_LAB_ALGOS": "ppo,a2c",
            "JAXOPT_LAB_ENVS": "CartPole-v1",
            "JAXOPT_LAB_TIMESTEPS": "1024",
            "JAXOPT_LAB_SEEDS": "2",
        },
        """import json
print(json.dumps({
    "table": table[["env", "algo", "status"]].values.tolist(),
    "tasks": matrices.tasks, "excluded": matrices.excluded,
    "aggregates": sorted(aggregates[["algo", "metric"]].values.tolist()),
    "poi": poi.index.tolist(), "poi_estimate": poi["estimate"].tolist(),
    "binned_algos": sorted(binned["algo"].unique().tolist()),
}))""",
    ),
    "sweep": (
        {
            "JAXOPT_LAB_TIMESTEPS": "1024",
            "JAXOPT_LAB_SEEDS": "2",
            "JAXOPT_LAB_LEARNING_RATES": "1e-3,1e-2",
            "JAXOPT_LAB_ENT_COEFS": "0,0.01",
        },
        """import json
print(json.dumps({
    "members": members[["learning_rate", "ent_coef", "status"]].values.tolist(),
    "grid": list(grid.shape), "finite": bool(np.isfinite(grid.to_numpy()).all()),
    "metric_members": sorted(metrics["member"].unique().tolist()),
}))""",
    ),
    "optimizers": (
        {"JAXOPT_LAB_OPTIMIZERS": "adam", "JAXOPT_LAB_SEEDS": "2", "JAXOPT_LAB_STEPS": "50"},
        """import json
print(json.dumps({
    "results": len(results), "factors": sorted(results["lr_factor"].unique().tolist()),
    "cells": list(cells.shape), "composed": list(rows),
    "finite": bool(np.isfinite(pd.DataFrame(rows).to_numpy()).all()),
    "curves": {k: list(v.shape) for k, v in curves.items()},
}))""",
    ),
    "preference_frontier": (
        {
            "JAXOPT_LAB_LOSSES": "sigmoid",  # and docs/discovered_pref_loss.npz, the default
            "JAXOPT_LAB_BETAS": "0.1,1",
            "JAXOPT_LAB_SEEDS": "2",
            "JAXOPT_LAB_LAB": json.dumps(TINY_LAB),
        },
        """import json
print(json.dumps({
    "status": summary["status"], "runs": summary["runs"],
    "table": sorted(table[["loss", "beta"]].values.tolist()),
    "seeds": table["seeds"].unique().tolist(), "cells": list(cells.shape),
}))""",
    ),
    # a relative run path that does not exist: resolved from the repository root, not notebooks/
    "lpo_drift": ({"JAXOPT_LAB_LPO_RUN": "runs/no-such-lpo-run"}, "print('{}')"),
}


async def run_notebook(name: str) -> tuple[nbformat.NotebookNode, Exception | None]:
    env, probe = CASES[name]
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    try:
        await client.async_execute(env={**os.environ, "PYTHONPATH": path, **env})
    except CellExecutionError as error:
        return notebook, error
    return notebook, None


@pytest.fixture(scope="module")
def executed() -> dict[str, tuple[nbformat.NotebookNode, Exception | None]]:
    async def run_all():
        return await asyncio.gather(*(run_notebook(name) for name in CASES))

    return dict(zip(CASES, asyncio.run(run_all()), strict=True))


def result(executed, name: str) -> tuple[list, dict]:
    """The notebook's own outputs (probe excluded) and the probe's JSON; re-raises a failure."""
    notebook, error = executed[name]
    if error is not None:
        raise error
    cells = [cell for cell in notebook.cells[:-1] if cell.cell_type == "code"]
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr  # no warnings either
    probed = notebook.cells[-1].outputs
    text = "".join(o.get("text", "") for o in probed if o.output_type == "stream")
    return outputs, json.loads(text.strip().splitlines()[-1])


def images(outputs: list) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


def test_compare_algorithms_notebook(executed):
    outputs, got = result(executed, "compare_algorithms")
    assert images(outputs) == 2  # learning curves; profile + probability of improvement
    assert got["table"] == [["CartPole-v1", "ppo", "ok"], ["CartPole-v1", "a2c", "ok"]]
    assert got["tasks"] == ["CartPole-v1"] and got["excluded"] == {}
    metrics = ["iqm", "mean", "median", "optimality_gap"]
    assert got["aggregates"] == [[a, m] for a in ("a2c", "ppo") for m in metrics]
    assert got["poi"] == ["a2c vs ppo"] and 0.0 <= got["poi_estimate"][0] <= 1.0
    assert got["binned_algos"] == ["a2c", "ppo"]


def test_sweep_notebook(executed):
    outputs, got = result(executed, "sweep")
    assert images(outputs) == 2  # heatmap, curves per member
    assert got["members"] == [
        [1e-3, 0.0, "ok"],
        [1e-3, 0.01, "ok"],
        [1e-2, 0.0, "ok"],
        [1e-2, 0.01, "ok"],
    ]
    assert got["grid"] == [2, 2] and got["finite"]
    assert got["metric_members"] == [0, 1, 2, 3]


def test_optimizers_notebook(executed):
    outputs, got = result(executed, "optimizers")
    assert images(outputs) == 2  # learning-rate sensitivity, composed optimizers
    assert got["results"] == 6 * 2 and got["factors"] == [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    assert got["cells"] == [1, 6]
    assert got["composed"] == [
        "adam",
        "adam, step decay",
        "chain",
        "cautious_adamw",
        "sam(cautious_adamw)",
    ]
    assert got["finite"]
    assert all(shape == [2, 100] for shape in got["curves"].values())


def test_preference_frontier_notebook(executed):
    outputs, got = result(executed, "preference_frontier")
    assert images(outputs) == 2  # the frontier, accuracies
    assert got["status"] == "ok" and got["runs"] == 2 * 2 * 2
    losses = ("discovered", "sigmoid")  # sigmoid and docs/discovered_pref_loss.npz
    assert got["table"] == [[loss, beta] for loss in losses for beta in (0.1, 1.0)]
    assert got["seeds"] == [2] and got["cells"] == [2, 2]


def test_lpo_drift_notebook_names_the_missing_run(executed):
    """Started in notebooks/, the notebook looks for the run from the repository root and
    says which command makes one."""
    notebook, error = executed["lpo_drift"]
    assert isinstance(error, CellExecutionError)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "FileNotFoundError"
    assert str(ROOT / "runs" / "no-such-lpo-run") in errors[0].evalue
    assert "python experiments/lpo_meta.py --out runs/lpo-cartpole" in errors[0].evalue
