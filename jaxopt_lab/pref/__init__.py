"""The preference-learning lab: a synthetic sequence task, a tiny policy, SFT, offline training.

Build one lab per data seed with :func:`build_lab` (SFT reference, Bradley-Terry-labelled pairs
sampled from it, held-out prompts), train with :func:`make_train` / :func:`make_sweep` (pure,
vmapped over seeds, beta, learning rate and the loss), and read true reward and KL(pi || ref).
"""

from jaxopt_lab.pref.config import LabConfig, PrefHParams, make_hparams
from jaxopt_lab.pref.data import LabData, PairData, build_lab
from jaxopt_lab.pref.evaluate import evaluate_policy
from jaxopt_lab.pref.losses import apply_loss, fixed_loss, registry_loss
from jaxopt_lab.pref.policy import SequencePolicy, init_policy, sample_completions, sequence_logps
from jaxopt_lab.pref.task import bradley_terry_prob, label_pairs, true_reward
from jaxopt_lab.pref.trainer import make_sweep, make_train

__all__ = [
    "LabConfig",
    "LabData",
    "PairData",
    "PrefHParams",
    "SequencePolicy",
    "apply_loss",
    "bradley_terry_prob",
    "build_lab",
    "evaluate_policy",
    "fixed_loss",
    "init_policy",
    "label_pairs",
    "make_hparams",
    "make_sweep",
    "make_train",
    "registry_loss",
    "sample_completions",
    "sequence_logps",
    "true_reward",
]
