"""The built-in algorithms, one module each (importing this package registers them)."""

from jaxopt_lab.rl.algos.drift import A2C, DPO, LPO, PPO, DriftAlgorithm
from jaxopt_lab.rl.algos.mdpo import MDPO
from jaxopt_lab.rl.algos.trpo import TRPO, conjugate_gradient, natural_gradient_step

__all__ = [
    "A2C",
    "DPO",
    "LPO",
    "MDPO",
    "PPO",
    "TRPO",
    "DriftAlgorithm",
    "conjugate_gradient",
    "natural_gradient_step",
]
