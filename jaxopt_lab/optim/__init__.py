"""Optimizers as optax ``GradientTransformation``s, equal to their reference implementations.

Aliases take a learning rate (float or optax schedule) and are ready to use; the ``scale_by_*``
building blocks output a direction with the gradient's sign, to chain with your own learning
rate, clipping or decay. All compose with ``optax.chain``, ``optax.inject_hyperparams``,
``optax.MultiSteps`` and each other, e.g. ``sam(cautious_adamw(1e-3))``.
"""

from jaxopt_lab.optim.adam import adam, adamw
from jaxopt_lab.optim.adamp import (
    ScaleByAdamPState,
    ScaleBySGDPState,
    adamp,
    scale_by_adamp,
    scale_by_sgdp,
    sgdp,
)
from jaxopt_lab.optim.cautious import (
    CautiousState,
    cautious,
    cautious_adamw,
    cautious_lion,
    scale_by_cautious_adam,
)
from jaxopt_lab.optim.lion import lion
from jaxopt_lab.optim.sam import SAMState, sam

# The optax-style building-block name of the same wrapper: its output is a direction.
scale_by_cautious = cautious

__all__ = [
    "CautiousState",
    "SAMState",
    "ScaleByAdamPState",
    "ScaleBySGDPState",
    "adam",
    "adamp",
    "adamw",
    "cautious",
    "cautious_adamw",
    "cautious_lion",
    "lion",
    "sam",
    "scale_by_adamp",
    "scale_by_cautious",
    "scale_by_cautious_adam",
    "scale_by_sgdp",
    "sgdp",
]
