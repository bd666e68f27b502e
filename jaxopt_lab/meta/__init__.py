"""Evolution-strategy discovery: a generic OpenAI-ES engine (:func:`evolve`) over any parameter
pytree, and its uses (learned LPO drifts in :mod:`jaxopt_lab.meta.lpo`)."""

from jaxopt_lab._pytree_io import load_pytree, read_metadata, save_pytree
from jaxopt_lab.meta.es import FITNESS_SHAPING, ESConfig, ESResult, evolve, make_strategy

__all__ = [
    "FITNESS_SHAPING",
    "ESConfig",
    "ESResult",
    "evolve",
    "load_pytree",
    "make_strategy",
    "read_metadata",
    "save_pytree",
]
