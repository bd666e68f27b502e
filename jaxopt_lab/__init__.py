"""jaxopt_lab: JAX-native policy optimisers, learned objectives and optax transforms."""

from jaxopt_lab.threefry import use_unrolled_threefry

use_unrolled_threefry()  # same random bits, no loop per draw on CPU (jaxopt_lab/threefry.py)

__version__ = "0.1.0"
