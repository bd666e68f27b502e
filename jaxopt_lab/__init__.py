"""jaxopt_lab: JAX-native policy optimisers, learned objectives and optax transforms."""

import os

# XLA:CPU's concurrency-optimised thunk scheduler intermittently deadlocks on our nested-scan
# training programs (jaxlib 0.10.2: every thread parked, block_until_ready never returns,
# typically on the second or third compiled program of a process). The sequential scheduler
# avoids it; these small ops gain nothing from running concurrently on a few cores. Put the
# flag in XLA_FLAGS yourself (either value) to override this default. It must be set before
# JAX creates its CPU client, so import jaxopt_lab before running any JAX computation.
_FLAG = "xla_cpu_enable_concurrency_optimized_scheduler"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --{_FLAG}=false".strip()

from jaxopt_lab.threefry import use_unrolled_threefry  # noqa: E402  (after the flags)

use_unrolled_threefry()  # same random bits, no loop per draw on CPU (jaxopt_lab/threefry.py)

__version__ = "0.1.0"
