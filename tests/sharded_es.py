"""Run by tests/test_es.py in a subprocess with 4 emulated host devices (the XLA flag must be
set before JAX starts): an ES generation's members evaluated over 4 devices are laid out as
intended and give the search of one device, up to rounding (other batch shapes)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
from test_es import SMALL, START, quadratic

from jaxopt_lab.meta import evolve
from jaxopt_lab.meta.es import make_generation, make_strategy, members_mesh

devices = jax.devices()
mesh = members_mesh(SMALL.population_size)  # 8 members over the 4 devices
strategy = make_strategy(SMALL, START)
state = strategy.init(jax.random.key(0), START, strategy.default_params)
_, values = jax.jit(make_generation(strategy, quadratic, SMALL, mesh))(state, jnp.int32(0))
sharded = evolve(quadratic, START, SMALL, progress=False, mesh=mesh)
whole = evolve(quadratic, START, SMALL, progress=False)
pairs = zip(jax.tree.leaves(sharded.mean), jax.tree.leaves(whole.mean), strict=True)
report = {
    "devices": len(devices),
    "mesh_sizes": [members_mesh(n, devices[:k]).size for n, k in ((8, 3), (6, 4), (2, 4))],
    "spec": str(values.sharding.spec),
    "devices_used": len(values.sharding.device_set),
    "result_devices": sharded.devices,
    "max_fitness_difference": float(np.max(np.abs(sharded.fitness - whole.fitness))),
    "max_mean_difference": max(float(np.max(np.abs(a - b))) for a, b in pairs),
}
print(json.dumps(report))
