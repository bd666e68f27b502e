"""Preference losses: hand-computed values, shapes, batch dependence, stability and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxopt_lab.objectives import (
    BATCH_DEPENDENT_LOSSES,
    PREFERENCE_LOSSES,
    discopop_loss,
    get_preference_loss,
    implicit_rewards,
    robust_loss,
    sigmoid_loss,
    validate_preference_inputs,
)

# Five pairs: rho = [1.5, -2.5, -0.5, 1, -2]; logp_w > logp_l only for pairs 0 and 2 (pair 3 ties).
PC = np.array([-3.0, -5.0, -2.0, -4.0, -10.0])
PR = np.array([-4.0, -3.0, -2.5, -4.0, -1.0])
RC = np.array([-3.5, -4.0, -2.0, -6.0, -9.0])
RR = np.array([-3.0, -4.5, -3.0, -5.0, -2.0])
BETA = 0.5


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def logsig(v):
    return -np.log1p(np.exp(-v))


def relu(v):
    return np.maximum(v, 0.0)


def parts(pc, pr, rc, rr, beta):
    h_w, h_l = pc - rc, pr - rr
    return h_w, h_l, beta * (h_w - h_l)


# Reference implementations in float64 numpy, written from the definitions (SPEC section 4,
# TRL's DPOTrainer, Lu et al. 2024's code); batch statistics use the unbiased estimators.
def ref_kto_pair(pc, pr, rc, rr, beta):
    h_w, h_l, _ = parts(pc, pr, rc, rr, beta)
    kl_w, kl_l = max(h_w.mean(), 0.0), max(h_l.mean(), 0.0)
    return 0.5 * ((1 - sig(beta * (h_w - kl_l))) + (1 - sig(beta * (kl_w - h_l))))


def ref_exo(eps):
    def f(pc, pr, rc, rr, beta):
        x = parts(pc, pr, rc, rr, beta)[2]
        return sig(x) * (logsig(x) - math.log(1 - eps)) + sig(-x) * (logsig(-x) - math.log(eps))

    return f


def ref_discopop(tau):
    def f(pc, pr, rc, rr, beta):
        x = parts(pc, pr, rc, rr, beta)[2]
        m = sig(x / tau)
        return (1 - m) * -logsig(x) + m * np.exp(-x)

    return f


def ref_aql(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    z = x / 0.05
    q = 0.5 + 0.01 * (sig(z.mean()) - 0.5)
    w = sig(-(z - q))
    return w * -logsig(x) + (1 - w) * relu(1 - x)


def ref_aqfl(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    z = x / 0.05
    q = z.std(ddof=1) * sig(-z).mean()
    q += 0.05 * (sig(z.mean()) - q)
    b = sig(0.1 * np.abs(z - q))
    return b * -logsig(x) + (1 - b) * relu(1 - x)


def ref_dbaql(pc, pr, rc, rr, beta):
    x = parts(pc, pr, rc, rr, beta)[2]
    c = sig((x / 0.05).var(ddof=1))
    return c * -logsig(x / 0.9) + (1 - c) * np.exp(-0.9 * x)


CASES = [
    ("sigmoid", {}, lambda *a: -logsig(parts(*a)[2])),
    (
        "sigmoid",
        {"label_smoothing": 0.1},
        lambda *a: -0.9 * logsig(parts(*a)[2]) - 0.1 * logsig(-parts(*a)[2]),
    ),
    ("robust", {}, lambda *a: -logsig(parts(*a)[2])),
    (
        "robust",
        {"label_smoothing": 0.2},
        lambda *a: (-0.8 * logsig(parts(*a)[2]) + 0.2 * logsig(-parts(*a)[2])) / 0.6,
    ),
    ("hinge", {}, lambda *a: relu(1 - parts(*a)[2])),
    ("ipo", {}, lambda pc, pr, rc, rr, b: ((pc - pr) - (rc - rr) - 1 / (2 * b)) ** 2),
    ("kto_pair", {}, ref_kto_pair),
    (
        "bco_pair",
        {},
        lambda pc, pr, rc, rr, b: -logsig(b * (pc - rc)) - logsig(-b * (pr - rr)),
    ),
    ("exo_pair", {}, ref_exo(1e-3)),
    ("exo_pair", {"label_smoothing": 0.1}, ref_exo(0.1)),
    (
        "nca_pair",
        {},
        lambda pc, pr, rc, rr, b: (
            -logsig(b * (pc - rc)) - 0.5 * logsig(-b * (pc - rc)) - 0.5 * logsig(-b * (pr - rr))
        ),
    ),
    (
        "sppo_hard",
        {},
        lambda pc, pr, rc, rr, b: (pc - rc - 0.5 / b) ** 2 + (pr - rr + 0.5 / b) ** 2,
    ),
    (
        "apo_zero",
        {},
        lambda pc, pr, rc, rr, b: 1 - sig(b * (pc - rc)) + sig(b * (pr - rr)),
    ),
    (
        "apo_down",
        {},
        lambda pc, pr, rc, rr, b: sig(b * (pc - rc)) + 1 - sig(parts(pc, pr, rc, rr, b)[2]),
    ),
    ("discopop", {}, ref_discopop(0.05)),
    ("discopop", {"tau": 0.5}, ref_discopop(0.5)),
    (
        "padll",
        {},
        lambda *a: 0.9 * (1 - 0.5 * ((a[0] - a[1]) - (a[2] - a[3]) < 0)) * -logsig(parts(*a)[2]),
    ),
    (
        "cell",
        {},
        lambda *a: 0.5 * np.exp(-parts(*a)[2]) + 0.5 * -logsig(parts(*a)[2]),
    ),
    (
        "pfl",
        {},
        lambda *a: np.where(a[0] > a[1], -logsig(parts(*a)[2]) / 2, 2 * relu(1 - parts(*a)[2])),
    ),
    ("aql", {}, ref_aql),
    ("aqfl", {}, ref_aqfl),
    ("dbaql", {}, ref_dbaql),
]


def test_every_registered_loss_has_a_hand_computed_case():
    assert {name for name, _, _ in CASES} == set(PREFERENCE_LOSSES)
    assert {"kto_pair", "aql", "aqfl", "dbaql"} == BATCH_DEPENDENT_LOSSES


@pytest.mark.parametrize(("name", "kwargs", "reference"), CASES)
def test_values_match_the_definitions(name, kwargs, reference):
    got = get_preference_loss(name)(PC, PR, RC, RR, beta=BETA, **kwargs)
    assert got.shape == PC.shape
    np.testing.assert_allclose(got, reference(PC, PR, RC, RR, BETA), rtol=2e-5, atol=1e-6)


LOG2 = math.log(2.0)
# At policy == reference (h_w = h_l = 0, x = 0) with beta 0.5; policy logp_w == logp_l.
AT_REFERENCE = {
    "sigmoid": LOG2,
    "robust": LOG2,
    "hinge": 1.0,
    "ipo": 1.0,
    "kto_pair": 0.5,
    "bco_pair": 2 * LOG2,
    "exo_pair": 0.5 * (-LOG2 - math.log(1 - 1e-3)) + 0.5 * (-LOG2 - math.log(1e-3)),
    "nca_pair": 2 * LOG2,
    "sppo_hard": 2.0,
    "apo_zero": 1.0,
    "apo_down": 1.0,
    "discopop": 0.5 * LOG2 + 0.5,
    "padll": 0.9 * LOG2,
    "cell": 0.5 + 0.5 * LOG2,
    "pfl": 2.0,
    "aql": sig(0.5) * LOG2 + (1 - sig(0.5)),
    "aqfl": sig(0.0025) * LOG2 + (1 - sig(0.0025)),
    "dbaql": 0.5 * LOG2 + 0.5,
}


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_closed_form_at_the_reference_and_finite_gradients_at_zero_variance(name):
    logps = jnp.full((4,), -2.0)
    loss = get_preference_loss(name)
    np.testing.assert_allclose(loss(logps, logps, logps, logps, beta=BETA), AT_REFERENCE[name])
    grads = jax.grad(lambda *a: loss(*a, beta=BETA).sum(), argnums=(0, 1, 2, 3))(
        logps, logps, logps, logps
    )
    assert all(bool(jnp.isfinite(g).all()) for g in grads)


def test_implicit_rewards():
    chosen, rejected = implicit_rewards(PC, PR, RC, RR, beta=BETA)
    np.testing.assert_allclose(chosen, BETA * (PC - RC))
    np.testing.assert_allclose(rejected, BETA * (PR - RR))


def test_discopop_is_logistic_for_negative_and_exponential_for_positive_margins():
    x = np.linspace(2.0, 20.0, 37)
    zeros = np.zeros_like(x)
    below = discopop_loss(-x, zeros, zeros, zeros, beta=1.0)
    above = discopop_loss(x, zeros, zeros, zeros, beta=1.0)
    np.testing.assert_allclose(below, np.log1p(np.exp(x)), rtol=1e-5)
    np.testing.assert_allclose(above, np.exp(-x), rtol=1e-5)
    # the default tau is 0.05, and the loss is non-monotone around x = 0 (Lu et al. 2024)
    np.testing.assert_array_equal(above, discopop_loss(x, zeros, zeros, zeros, beta=1.0, tau=0.05))
    slope = jax.grad(lambda p: discopop_loss(p, 0.0, 0.0, 0.0, beta=1.0))(0.0)
    assert float(slope) > 0


X_GRID = np.linspace(-50.0, 50.0, 201)
DECREASING = [
    ("sigmoid", {}),
    ("robust", {}),
    ("robust", {"label_smoothing": 0.2}),
    ("hinge", {}),
    ("bco_pair", {}),
    ("apo_zero", {}),
    ("padll", {}),
    ("cell", {}),
    ("pfl", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), DECREASING)
def test_losses_decrease_with_rho(name, kwargs):
    loss = get_preference_loss(name)
    beta = 0.1
    rho = X_GRID / beta
    pc, pr, ref = jnp.asarray(rho / 2), jnp.asarray(-rho / 2), jnp.zeros_like(rho)
    d_chosen, d_rejected = jax.grad(
        lambda c, r: loss(c, r, ref, ref, beta=beta, **kwargs).sum(), argnums=(0, 1)
    )(pc, pr)
    assert float(d_chosen.max()) <= 0.0
    assert float(d_rejected.min()) >= 0.0


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_batch_dependence(name):
    # pair 0 at rho = 0 and a small beta, where the batch statistics move every mixture weight;
    # then the other pairs change unevenly (their mean and spread both change)
    loss = get_preference_loss(name)
    pc = PC.copy()
    pc[0] = -4.5
    base = loss(pc, PR, RC, RR, beta=0.01)
    changed = loss(pc + np.array([0.0, 30.0, 10.0, -20.0, 50.0]), PR, RC, RR, beta=0.01)
    if name in BATCH_DEPENDENT_LOSSES:
        assert abs(float(changed[0]) - float(base[0])) > 1e-4
    else:
        assert float(changed[0]) == float(base[0])


@pytest.mark.parametrize("beta", [1.0, 0.05])
@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_no_nan_in_values_or_gradients_on_a_wide_grid(name, beta):
    loss = get_preference_loss(name)
    rho = jnp.asarray(X_GRID / beta)
    args = (rho / 2, -rho / 2, jnp.zeros_like(rho), jnp.zeros_like(rho))

    def total(*a):
        return loss(*a, beta=beta).sum()

    # the whole grid as one batch, and every point as its own batch of one
    singles = tuple(a[:, None] for a in args)
    values = [loss(*args, beta=beta), jax.vmap(lambda *a: loss(*a, beta=beta))(*singles)]
    grads = [*jax.grad(total, argnums=(0, 1, 2, 3))(*args)]
    grads += [*jax.vmap(jax.grad(total, argnums=(0, 1, 2, 3)))(*singles)]
    for array in values + grads:
        assert not bool(jnp.isnan(array).any()), name
        assert bool(jnp.isfinite(array).all()), name


def test_exponential_terms_stay_finite_where_their_weight_vanishes():
    # m * exp(-x) in DiscoPOP and (1 - c) * exp(-0.9 x) in DBAQL would be 0 * inf here
    x = jnp.array([-1000.0, -200.0, 0.0, 5.0])
    zeros = jnp.zeros_like(x)
    for name in ("discopop", "dbaql"):
        loss = get_preference_loss(name)
        value = loss(x, zeros, zeros, zeros, beta=1.0)
        grad = jax.grad(lambda c, f=loss: f(c, zeros, zeros, zeros, beta=1.0).sum())(x)
        assert bool(jnp.isfinite(value).all()) and bool(jnp.isfinite(grad).all()), name
    np.testing.assert_allclose(
        discopop_loss(x[:2], zeros[:2], zeros[:2], zeros[:2], beta=1.0), [1000.0, 200.0]
    )


def test_beta_may_be_traced_under_jit_and_vmap():
    eager = sigmoid_loss(PC, PR, RC, RR, beta=BETA)
    jitted = jax.jit(lambda b: sigmoid_loss(PC, PR, RC, RR, beta=b))(BETA)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    betas = jnp.array([0.1, BETA])
    swept = jax.vmap(lambda b: sigmoid_loss(PC, PR, RC, RR, beta=b))(betas)
    np.testing.assert_allclose(swept[1], eager, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(PREFERENCE_LOSSES))
def test_shape_mismatch_and_nonpositive_beta_raise(name):
    loss = get_preference_loss(name)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        loss(PC, PR[:4], RC, RR, beta=BETA)
    with pytest.raises(ValueError, match="reference_rejected_logps"):
        loss(PC, PR, RC, RR[:, None], beta=BETA)
    for beta in (0.0, -0.1, np.float32(-1.0), jnp.array(0.0), float("nan")):
        with pytest.raises(ValueError, match="beta"):
            loss(PC, PR, RC, RR, beta=beta)


def test_validation_is_usable_before_compilation():
    validate_preference_inputs(PC, PR, RC, RR, BETA)
    with pytest.raises(ValueError, match="reference_chosen_logps"):
        validate_preference_inputs(PC, PR, RC[:2], RR, BETA)
    with pytest.raises(ValueError, match="beta"):
        validate_preference_inputs(PC, PR, RC, RR, -1)
    with pytest.raises(ValueError, match="label_smoothing"):
        robust_loss(PC, PR, RC, RR, beta=BETA, label_smoothing=0.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        get_preference_loss("exo_pair")(PC, PR, RC, RR, beta=BETA, label_smoothing=0.0)
    with pytest.raises(ValueError, match="tau"):
        discopop_loss(PC, PR, RC, RR, beta=BETA, tau=0.0)


def test_unknown_loss_name_lists_the_registry():
    with pytest.raises(ValueError, match="unknown preference loss 'dpo'") as info:
        get_preference_loss("dpo")
    assert all(name in str(info.value) for name in PREFERENCE_LOSSES)
